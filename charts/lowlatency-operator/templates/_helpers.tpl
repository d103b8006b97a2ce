{{- define "lowlatency-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lowlatency-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "lowlatency-operator.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "lowlatency-operator.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "lowlatency-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lowlatency-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lowlatency-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lowlatency-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lowlatency
{{- end }}

{{- define "lowlatency-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lowlatency-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lowlatency-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* What the operator does to its own resources in a watched namespace (or in all of them). */}}
{{- define "lowlatency-operator.resourceRules" -}}
# The finalizer and kopf's diff-base annotation are written by patching the object itself; the status (phase,
# conditions, kopf's progress) through the status subresource. The operator never creates or deletes them.
- apiGroups: [lowlatency.io]
  resources: [lowlatencyendpoints]
  verbs: [list, watch, patch]
- apiGroups: [lowlatency.io]
  resources: [lowlatencyendpoints/status]
  verbs: [patch]
# Events on the resources (kopf posts core/v1 Events).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}

{{- define "lowlatency-operator.peeringRules" -}}
- apiGroups: [kopf.dev]
  resources: [{{ . }}]
  verbs: [get, list, watch, patch]
{{- end }}

{{- define "lowlatency-operator.tenantPolicyName" -}}
{{- printf "%s-tenant-policy" (include "lowlatency-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The ConfigMap holding the price table (key prices.json): the chart's own or the user's; empty: the bundled one. */}}
{{- define "lowlatency-operator.pricesConfigMap" -}}
{{- if .Values.prices.table }}
{{- printf "%s-prices" (include "lowlatency-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- .Values.prices.existingConfigMap }}
{{- end }}
{{- end }}
