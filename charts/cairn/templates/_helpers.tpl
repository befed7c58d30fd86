{{/* Names: at most 63 characters, as Kubernetes names and labels allow. */}}
{{- define "cairn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cairn.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* zot's objects: the fullname leaves room for the suffix. */}}
{{- define "cairn.zotName" -}}
{{- printf "%s-zot" (include "cairn.fullname" . | trunc 59 | trimSuffix "-") }}
{{- end }}

{{- define "cairn.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cairn.commonLabels" -}}
helm.sh/chart: {{ include "cairn.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cairn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cairn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: facade
{{- end }}

{{- define "cairn.labels" -}}
{{ include "cairn.commonLabels" . }}
{{ include "cairn.selectorLabels" . }}
{{- end }}

{{- define "cairn.zotSelectorLabels" -}}
app.kubernetes.io/name: {{ include "cairn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: zot
{{- end }}

{{- define "cairn.zotLabels" -}}
{{ include "cairn.commonLabels" . }}
{{ include "cairn.zotSelectorLabels" . }}
{{- end }}

{{- define "cairn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cairn.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cairn.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where things live inside cairn's container. */}}
{{- define "cairn.configDir" -}}/etc/cairn{{- end }}
{{- define "cairn.configPath" -}}/etc/cairn/cairn.yaml{{- end }}
{{- define "cairn.dataDir" -}}/var/lib/cairn{{- end }}
{{- define "cairn.signingKeyDir" -}}/etc/cairn/signing{{- end }}
{{- define "cairn.trustDir" -}}/etc/cairn/trust{{- end }}

{{- define "cairn.isPostgres" -}}
{{- if eq .Values.catalog.type "postgres" }}true{{ end }}
{{- end }}

{{- define "cairn.dsnSecretName" -}}
{{- default (printf "%s-catalog" (include "cairn.fullname" .)) .Values.catalog.postgres.existingSecret }}
{{- end }}

{{- define "cairn.signingKeySecretName" -}}
{{- default (printf "%s-signing-key" (include "cairn.fullname" .)) .Values.signingKey.existingSecret }}
{{- end }}

{{- define "cairn.trustConfigMapName" -}}
{{- default (printf "%s-trust" (include "cairn.fullname" .)) .Values.trustKeysConfigMap }}
{{- end }}

{{/*
The data directory needs a PersistentVolumeClaim when it holds what must
outlive a pod: the SQLite catalog (tokens and owners live there too) or the
embedded engine's blobs.
*/}}
{{- define "cairn.needsVolume" -}}
{{- if or (not (include "cairn.isPostgres" .)) (not .Values.zot.enabled) }}true{{ end }}
{{- end }}

{{- define "cairn.usesClaim" -}}
{{- if and (include "cairn.needsVolume" .) .Values.persistence.enabled }}true{{ end }}
{{- end }}

{{- define "cairn.claimName" -}}
{{- default (printf "%s-data" (include "cairn.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/* The URL cairn reaches zot at, and zot reaches cairn's events at. */}}
{{- define "cairn.zotURL" -}}
{{- printf "http://%s.%s.svc:%d" (include "cairn.zotName" .) .Release.Namespace (int .Values.zot.port) }}
{{- end }}

{{- define "cairn.eventsURL" -}}
{{- printf "http://%s.%s.svc:%d/api/v1/events" (include "cairn.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- end }}

{{/* The token realm: given, or the Ingress host's /auth/token. */}}
{{- define "cairn.realm" -}}
{{- if .Values.auth.realm }}
{{- .Values.auth.realm }}
{{- else if and .Values.ingress.enabled .Values.ingress.host }}
{{- printf "%s://%s/auth/token" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host }}
{{- end }}
{{- end }}

{{/*
Settings that render but cannot work are refused here, before anything is
installed, with what to change.
*/}}
{{- define "cairn.validate" -}}
{{- $replicas := int .Values.replicaCount }}
{{- if and (gt $replicas 1) (not (include "cairn.isPostgres" .)) }}
{{- fail (printf "replicaCount is %d but catalog.type is sqlite: a SQLite catalog is one file that only one cairn may write. Set catalog.type=postgres with catalog.postgres.dsn (or catalog.postgres.existingSecret), or replicaCount=1." $replicas) }}
{{- end }}
{{- if and (include "cairn.isPostgres" .) (not .Values.catalog.postgres.dsn) (not .Values.catalog.postgres.existingSecret) }}
{{- fail "catalog.type is postgres but no DSN is given: set catalog.postgres.dsn (postgres://USER:PASSWORD@HOST:5432/DB) or catalog.postgres.existingSecret (a Secret holding it under catalog.postgres.secretKey)." }}
{{- end }}
{{- if and .Values.catalog.postgres.dsn (not (or (hasPrefix "postgres://" .Values.catalog.postgres.dsn) (hasPrefix "postgresql://" .Values.catalog.postgres.dsn))) }}
{{- fail "catalog.postgres.dsn must start with postgres:// or postgresql://; cairn would take anything else for a SQLite file path." }}
{{- end }}
{{- if and (include "cairn.needsVolume" .) (not .Values.persistence.enabled) }}
{{- fail (printf "persistence.enabled is false but cairn's data directory holds %s: it would be lost with the pod. Enable persistence%s." (ternary "the embedded engine's blobs" "the SQLite catalog (with its tokens)" (not .Values.zot.enabled)) (ternary "" ", or use catalog.type=postgres" (not .Values.zot.enabled))) }}
{{- end }}
{{- if and (not .Values.zot.enabled) (gt $replicas 1) (not .Values.persistence.existingClaim) (not (has "ReadWriteMany" .Values.persistence.accessModes)) }}
{{- fail (printf "replicaCount is %d in embedded mode (zot.enabled=false): the replicas share one data directory (blobs and upload secret), so persistence.accessModes must include ReadWriteMany (or name a shared persistence.existingClaim)." $replicas) }}
{{- end }}
{{- if and .Values.zot.enabled .Values.storage }}
{{- fail "storage is for the embedded engine only; with zot.enabled=true zot keeps the bytes. Remove storage or set zot.enabled=false." }}
{{- end }}
{{- if and .Values.auth.enabled (not (include "cairn.realm" .)) }}
{{- fail "auth.enabled is true but cairn cannot tell clients where to get tokens: set auth.realm (e.g. https://registry.example.com/auth/token) or enable the Ingress with ingress.host." }}
{{- end }}
{{- if hasKey .Values.auth "signing_key" }}
{{- fail "auth.signing_key is set by the chart; give the key as a Secret with signingKey.existingSecret instead." }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) }}
{{- fail "ingress.enabled is true but ingress.host is empty: name the host clients push to." }}
{{- end }}
{{- if and .Values.trustKeys .Values.trustKeysConfigMap }}
{{- fail "give trust keys either inline (trustKeys) or as an existing ConfigMap (trustKeysConfigMap), not both." }}
{{- end }}
{{- end }}

{{/* cairn's config file; the DSN is not here: it comes from a Secret. */}}
{{- define "cairn.config" -}}
addr: {{ printf "0.0.0.0:%d" (int .Values.service.port) | quote }}
data_dir: {{ include "cairn.dataDir" . }}
log:
  level: {{ .Values.log.level }}
  format: {{ .Values.log.format }}
shutdown_timeout: {{ .Values.shutdownTimeout }}
repair_interval: {{ .Values.repairInterval }}
reconcile_interval: {{ .Values.reconcileInterval }}
allow_delete_with_dependents: {{ .Values.allowDeleteWithDependents }}
catalog_memory_index: {{ .Values.catalogMemoryIndex }}
{{- if .Values.zot.enabled }}
upstream:
  url: {{ include "cairn.zotURL" . }}
  timeout: {{ .Values.upstreamTimeout }}
{{- else if .Values.storage }}
storage:
  {{- toYaml .Values.storage | nindent 2 }}
{{- end }}
{{- with .Values.trust }}
trust:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $auth := deepCopy .Values.auth }}
{{- if $auth.enabled }}
{{- $_ := set $auth "realm" (include "cairn.realm" .) }}
{{- $_ := set $auth "signing_key" (printf "%s/%s" (include "cairn.signingKeyDir" .) .Values.signingKey.secretKey) }}
{{- end }}
auth:
  {{- toYaml $auth | nindent 2 }}
{{- end }}

{{/* zot's config.json: extraConfig under the chart's own settings. */}}
{{- define "cairn.zotConfig" -}}
{{- $own := dict
  "distSpecVersion" "1.1.1"
  "storage" (dict "rootDirectory" "/var/lib/registry")
  "http" (dict "address" "0.0.0.0" "port" (toString (int .Values.zot.port)))
  "log" (dict "level" .Values.zot.logLevel) }}
{{- if .Values.zot.events.enabled }}
{{- $sink := dict "type" "http" "address" (include "cairn.eventsURL" .) "timeout" .Values.zot.events.timeout }}
{{- with .Values.zot.events.headers }}
{{- $_ := set $sink "headers" . }}
{{- end }}
{{- $_ := set $own "extensions" (dict "events" (dict "enable" true "sinks" (list $sink))) }}
{{- end }}
{{- mergeOverwrite (deepCopy .Values.zot.extraConfig) $own | toPrettyJson }}
{{- end }}

{{/* storageClassName from a persistence block: "" the default class, "-" none. */}}
{{- define "cairn.storageClass" -}}
{{- if eq .storageClass "-" -}}
storageClassName: ""
{{- else if .storageClass -}}
storageClassName: {{ .storageClass | quote }}
{{- end -}}
{{- end }}
