package api

// ErrorBody is the body of every error the catalog API answers:
// {"error":{"code":…,"message":…,"detail":…}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error is one error of the catalog API.
type Error struct {
	// Code is stable, such as INVALID_PARAMETER; programs test it.
	Code string `json:"code"`
	// Message says what went wrong and what to do, for a person.
	Message string `json:"message"`
	// Detail names what the error is about: a parameter ("parameter") or a
	// digest ("digest").
	Detail map[string]string `json:"detail,omitempty"`
}
