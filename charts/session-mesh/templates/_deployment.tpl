{{/*
One Deployment shape for edge, registry and admin: the same image, security, probes and
credentials; the component passes what differs. dict:
  root, component, values (the component's values), script (services/<x>/dist/main.js),
  ports (list of dicts name/containerPort), env (YAML list text), auth (bool),
  replicas (int, or nil when an HPA owns it), grace (seconds), lifecycle (YAML text or ""),
  topologySpread (YAML text or "").
*/}}
{{- define "session-mesh.deployment" -}}
{{- $root := .root }}
{{- $v := .values }}
{{- $ctx := dict "root" $root "component" .component }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "session-mesh.componentName" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "session-mesh.componentLabels" $ctx | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .replicas) }}
  replicas: {{ .replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- with $v.minReadySeconds }}
  # A new pod counts as available only after this long: a rollout moves on once the sockets it
  # took over have settled, not the moment readiness first passes.
  minReadySeconds: {{ . | int64 }}
  {{- end }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # One new pod at a time and none taken away first: capacity never drops during a rollout.
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "session-mesh.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "session-mesh.selectorLabels" $ctx | nindent 8 }}
        app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $annotations := merge (include "session-mesh.checksumAnnotations" $root | fromYaml) (deepCopy ($v.podAnnotations | default dict)) }}
      {{- with $annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "session-mesh.serviceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ .grace }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with include "session-mesh.scheduling" (dict "values" $v) | trim }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- with .topologySpread }}
      {{- . | nindent 6 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "session-mesh.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: ["node", {{ .script | quote }}]
          ports:
            {{- range .ports }}
            - name: {{ .name }}
              containerPort: {{ .containerPort }}
              protocol: TCP
            {{- end }}
            - name: ops
              containerPort: {{ $v.opsPort | int64 }}
              protocol: TCP
          env:
            {{- include "session-mesh.commonEnv" (dict "root" $root "values" $v) | trim | nindent 12 }}
            {{- if .auth }}
            {{- include "session-mesh.authEnv" (dict "root" $root) | trim | nindent 12 }}
            {{- end }}
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
          {{- include "session-mesh.probes" . | nindent 10 }}
          {{- with .lifecycle }}
          lifecycle:
            {{- . | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            {{- include "session-mesh.credentialVolumeMounts" (dict "root" $root "auth" .auth) | nindent 12 }}
      volumes:
        {{- include "session-mesh.credentialVolumes" (dict "root" $root "auth" .auth) | nindent 8 }}
{{- end }}

{{/* A PodDisruptionBudget for a component. dict: root, component, pdb (values.pdb). */}}
{{- define "session-mesh.pdb" -}}
{{- $ctx := dict "root" .root "component" .component }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "session-mesh.componentName" $ctx }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "session-mesh.componentLabels" $ctx | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .pdb.maxUnavailable) }}
  maxUnavailable: {{ .pdb.maxUnavailable }}
  {{- else }}
  minAvailable: {{ .pdb.minAvailable }}
  {{- end }}
  # Pods that never became ready may be evicted: a crash-looping pod must not block node drains.
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "session-mesh.selectorLabels" $ctx | nindent 6 }}
{{- end }}
