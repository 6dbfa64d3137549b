{{/* Names: <release>-<chart> unless overridden, 63 characters at most (DNS label). */}}
{{- define "session-mesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "session-mesh.fullname" -}}
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

{{/* "<fullname>-<component>", kept short enough for a Service name plus "-ops". */}}
{{- define "session-mesh.componentName" -}}
{{- printf "%s-%s" (include "session-mesh.fullname" .root | trunc 50 | trimSuffix "-") .component }}
{{- end }}

{{- define "session-mesh.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "session-mesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: session-mesh
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of one component; dict: root, component. */}}
{{- define "session-mesh.componentLabels" -}}
{{ include "session-mesh.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "session-mesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "session-mesh.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "session-mesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "session-mesh.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "session-mesh.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The Secret holding credentials: the operator's existingSecret or the one this chart creates. */}}
{{- define "session-mesh.secretName" -}}
{{- default (include "session-mesh.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "session-mesh.natsCredsSecretName" -}}
{{- default (include "session-mesh.secretName" .) .Values.nats.credentials.secretName }}
{{- end }}

{{- define "session-mesh.natsUrl" -}}
{{- if .Values.nats.bundled.enabled }}
{{- printf "nats://%s:4222" (include "session-mesh.componentName" (dict "root" . "component" "nats")) }}
{{- else }}
{{- required "nats.url is required (or nats.bundled.enabled=true to try the chart out)" .Values.nats.url }}
{{- end }}
{{- end }}

{{/* The edge's shutdown watchdog (ms) and the pod's grace period (s), derived from the drain. */}}
{{- define "session-mesh.edgeShutdownTimeoutMs" -}}
{{- $d := .Values.edge.drain }}
{{- add $d.delayMs $d.spreadMs $d.flushMs }}
{{- end }}

{{- define "session-mesh.edgeGracePeriodSeconds" -}}
{{- $ms := include "session-mesh.edgeShutdownTimeoutMs" . | int }}
{{- add (div (add $ms 999) 1000) .Values.edge.drain.graceMarginSeconds }}
{{- end }}

{{/*
Environment every service reads the same way (bus, subjects, logs, ops port, credentials).
dict: root, values (the component's values). Secrets only through secretKeyRef or mounted files.
*/}}
{{- define "session-mesh.commonEnv" -}}
{{- $root := .root }}
- name: MESH_NATS_URL
  value: {{ include "session-mesh.natsUrl" $root | quote }}
- name: MESH_SUBJECT_PREFIX
  value: {{ $root.Values.nats.subjectPrefix | quote }}
- name: MESH_KV_REPLICAS
  value: {{ ternary 1 $root.Values.nats.kvReplicas $root.Values.nats.bundled.enabled | int64 | quote }}
{{- /* The push and lifecycle events streams are replicated like the buckets. */}}
- name: MESH_DURABLE_REPLICAS
  value: {{ ternary 1 $root.Values.nats.kvReplicas $root.Values.nats.bundled.enabled | int64 | quote }}
- name: MESH_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: MESH_OPS_HOST
  value: "0.0.0.0"
- name: MESH_OPS_PORT
  value: {{ .values.opsPort | int64 | quote }}
{{- if .values.nodeOptions }}
- name: NODE_OPTIONS
  value: {{ .values.nodeOptions | quote }}
{{- end }}
{{- if $root.Values.nats.credentials.enabled }}
- name: MESH_NATS_CREDS_FILE
  value: /etc/session-mesh/nats/nats.creds
{{- end }}
{{- range $name, $value := $root.Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- range $name, $value := .values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* JWT verification settings (edge and admin). dict: root. */}}
{{- define "session-mesh.authEnv" -}}
{{- $root := .root }}
{{- $auth := $root.Values.auth }}
{{- $keys := $root.Values.secrets.keys }}
{{- if eq $auth.keySource "secret" }}
- name: MESH_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "session-mesh.secretName" $root }}
      key: {{ $keys.jwtSecret }}
{{- else if eq $auth.keySource "publicKey" }}
- name: MESH_JWT_PUBLIC_KEY_FILE
  value: /etc/session-mesh/jwt/public-key.pem
{{- else if eq $auth.keySource "jwks" }}
- name: MESH_JWT_JWKS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "session-mesh.secretName" $root }}
      key: {{ $keys.jwksUrl }}
{{- end }}
{{- if ne $auth.keySource "none" }}
{{- with $auth.algorithms }}
- name: MESH_JWT_ALGORITHMS
  value: {{ join "," . | quote }}
{{- end }}
{{- with $auth.issuer }}
- name: MESH_JWT_ISSUER
  value: {{ join "," . | quote }}
{{- end }}
{{- with $auth.audience }}
- name: MESH_JWT_AUDIENCE
  value: {{ join "," . | quote }}
{{- end }}
- name: MESH_JWT_CLOCK_TOLERANCE_S
  value: {{ $auth.clockToleranceSeconds | int64 | quote }}
- name: MESH_JWT_USER_CLAIM
  value: {{ $auth.userClaim | quote }}
- name: MESH_JWT_SESSION_CLAIM
  value: {{ $auth.sessionClaim | quote }}
- name: MESH_JWT_ROLES_CLAIM
  value: {{ $auth.rolesClaim | quote }}
{{- end }}
{{- end }}

{{/* Read-only mounts of credentials files. dict: root, auth (bool: this service verifies JWTs). */}}
{{- define "session-mesh.credentialVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if and .auth (eq .root.Values.auth.keySource "publicKey") }}
- name: jwt-public-key
  mountPath: /etc/session-mesh/jwt
  readOnly: true
{{- end }}
{{- if .root.Values.nats.credentials.enabled }}
- name: nats-creds
  mountPath: /etc/session-mesh/nats
  readOnly: true
{{- end }}
{{- end }}

{{- define "session-mesh.credentialVolumes" -}}
# Writable scratch space: the root filesystem is read-only.
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if and .auth (eq .root.Values.auth.keySource "publicKey") }}
- name: jwt-public-key
  secret:
    secretName: {{ include "session-mesh.secretName" .root }}
    defaultMode: 0440
    items:
      - key: {{ .root.Values.secrets.keys.jwtPublicKey }}
        path: public-key.pem
{{- end }}
{{- if .root.Values.nats.credentials.enabled }}
- name: nats-creds
  secret:
    secretName: {{ include "session-mesh.natsCredsSecretName" .root }}
    defaultMode: 0440
    items:
      - key: {{ .root.Values.nats.credentials.key }}
        path: nats.creds
{{- end }}
{{- end }}

{{/* Rolls the pods when credentials given to the chart change. Hashes the values, not the rendered
Secret: generated credentials are random on every render but stable in the cluster. */}}
{{- define "session-mesh.checksumAnnotations" -}}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ toJson .Values.secrets | sha256sum }}
{{- end }}
{{- end }}

{{/* Probes on the internal ops port. dict: values. */}}
{{- define "session-mesh.probes" -}}
startupProbe:
  httpGet: { path: /healthz, port: ops }
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet: { path: /healthz, port: ops }
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: ops }
  periodSeconds: 2
  timeoutSeconds: 2
  failureThreshold: 1
  successThreshold: 1
{{- end }}

{{/* Pod scheduling fields shared by the Deployments. dict: values. */}}
{{- define "session-mesh.scheduling" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
