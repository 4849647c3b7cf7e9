{{/*
Names and labels.
*/}}
{{- define "timesheet-batch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "timesheet-batch.fullname" -}}
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

{{- define "timesheet-batch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels. Call with (dict "root" $ "component" "worker"). */}}
{{- define "timesheet-batch.labels" -}}
helm.sh/chart: {{ include "timesheet-batch.chart" .root }}
{{ include "timesheet-batch.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* Selector labels. Call with (dict "root" $ "component" "worker" ["pool" "all"]). */}}
{{- define "timesheet-batch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "timesheet-batch.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- if hasKey . "pool" }}
timesheet-batch/pool: {{ .pool }}
{{- end }}
{{- end }}

{{- define "timesheet-batch.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where the vendors ConfigMap is mounted (TIMESHEET_VENDORS_FILE). */}}
{{- define "timesheet-batch.vendorsPath" -}}
/etc/timesheet/vendors.yaml
{{- end }}

{{/*
Non-secret environment as "NAME: value" lines: the ConfigMap's data, and the migrate Job's
env (hooks run before the ConfigMap exists on install).
*/}}
{{- define "timesheet-batch.configEnv" -}}
TIMESHEET_VENDORS_FILE: {{ include "timesheet-batch.vendorsPath" . | quote }}
{{- range $name, $value := .Values.env }}
{{- if has $name (list "TIMESHEET_MASKING_KEY" "TIMESHEET_DATABASE_URL") }}
{{- fail (printf "env.%s is a secret: put it in the Secret named by secret.name" $name) }}
{{- end }}
{{- if and (ne $name "TIMESHEET_VENDORS_FILE") (ne (toString $value) "") }}
{{ $name }}: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The vendor file's content: vendors.content, else the chart's files/vendors.yaml. */}}
{{- define "timesheet-batch.vendorsContent" -}}
{{- if .Values.vendors.content }}
{{- .Values.vendors.content }}
{{- else }}
{{- required "files/vendors.yaml is missing from the chart" (.Files.Get "files/vendors.yaml") }}
{{- end }}
{{- end }}

{{/* Environment from the Secret plus extraEnv: container "env" list items. */}}
{{- define "timesheet-batch.secretEnv" -}}
- name: TIMESHEET_MASKING_KEY
  valueFrom:
    secretKeyRef:
      name: {{ required "secret.name is required" .Values.secret.name }}
      key: {{ .Values.secret.maskingKeyKey }}
- name: TIMESHEET_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secret.name }}
      key: {{ .Values.secret.databaseUrlKey }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Container "envFrom": the config ConfigMap plus extraEnvFrom. */}}
{{- define "timesheet-batch.envFrom" -}}
- configMapRef:
    name: {{ include "timesheet-batch.fullname" . }}-config
{{- with .Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod volumes. Call with (dict "root" $ "vendorsConfigMap" "<name>"). */}}
{{- define "timesheet-batch.volumes" -}}
- name: vendors
  configMap:
    name: {{ .vendorsConfigMap }}
- name: data
  emptyDir:
    sizeLimit: {{ .root.Values.dataDir.sizeLimit }}
- name: tmp
  emptyDir: {}
{{- end }}

{{- define "timesheet-batch.volumeMounts" -}}
- name: vendors
  mountPath: {{ include "timesheet-batch.vendorsPath" . }}
  subPath: vendors.yaml
  readOnly: true
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Pod-level settings shared by every workload. */}}
{{- define "timesheet-batch.podCommon" -}}
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Pod template annotations: roll the pods when the settings or the vendor file change. */}}
{{- define "timesheet-batch.podAnnotations" -}}
checksum/config: {{ include "timesheet-batch.configEnv" . | sha256sum }}
checksum/vendors: {{ include "timesheet-batch.vendorsContent" . | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}
