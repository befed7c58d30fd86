package embedded

import (
	"context"
	"errors"
	"sync"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// memoryDriverName is the library's in-memory driver as cairn's engine
// uses it: one store per engine, shared by the library's handlers and the
// engine's own reads and writes (links, walks, upload checks). The
// library's factory makes a new, empty store at each creation, so the two
// would otherwise hold different contents.
const memoryDriverName = "cairn-inmemory"

// memoryInstance is the parameter naming which engine's store to open.
const memoryInstance = "instance"

func init() { factory.Register(memoryDriverName, memoryFactory{}) }

var memoryStores sync.Map // instance → *inmemory.Driver

type memoryFactory struct{}

func (memoryFactory) Create(_ context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
	key, _ := params[memoryInstance].(string)
	if key == "" {
		return nil, errors.New("in-memory storage: no instance named")
	}
	d, _ := memoryStores.LoadOrStore(key, inmemory.New())
	return d.(*inmemory.Driver), nil
}

// forgetMemory drops an engine's in-memory store once it is closed.
func forgetMemory(key string) { memoryStores.Delete(key) }
