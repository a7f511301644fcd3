{{/* Names and labels. */}}
{{- define "matchday.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "matchday.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "matchday.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "matchday.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "matchday.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "matchday.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: matchday
{{- end -}}

{{/* Selector labels of one component: include "matchday.selector" (list . "serving") */}}
{{- define "matchday.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "matchday.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "matchday.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "matchday.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* An image reference: include "matchday.image" (list . .Values.images.serving "") ; the last item is a tag suffix. */}}
{{- define "matchday.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- $suffix := index . 2 -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default (printf "%s%s" $root.Chart.AppVersion $suffix) $image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "matchday.secretName" -}}
{{- default (printf "%s-secrets" (include "matchday.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "matchday.mlflowUri" -}}
{{- if .Values.config.mlflowTrackingUri -}}
{{- .Values.config.mlflowTrackingUri -}}
{{- else if .Values.mlflow.enabled -}}
{{- printf "http://%s-mlflow:%d" (include "matchday.fullname" .) (int .Values.mlflow.port) -}}
{{- else -}}
{{- fail "config.mlflowTrackingUri is required when mlflow.enabled is false: the prod profile refuses to start without MATCHDAY_MLFLOW_TRACKING_URI" -}}
{{- end -}}
{{- end -}}

{{/* The MATCHDAY_* settings every Matchday container gets: the ConfigMap and the secret keys. */}}
{{- define "matchday.env" -}}
- name: MATCHDAY_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "matchday.secretName" . }}
      key: MATCHDAY_DATABASE_URL
- name: MATCHDAY_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "matchday.secretName" . }}
      key: MATCHDAY_REDIS_URL
{{- end -}}

{{- define "matchday.envFrom" -}}
- configMapRef:
    name: {{ include "matchday.fullname" . }}-config
{{- end -}}

{{/* The GPU pool's `label=value`, checked to be a single label (MATCHDAY_GPU_NODE_SELECTOR's form). */}}
{{- define "matchday.gpuNodeSelector" -}}
{{- if ne (len .Values.gpu.nodeSelector) 1 -}}
{{- fail "gpu.nodeSelector must hold exactly one label: MATCHDAY_GPU_NODE_SELECTOR is a single label=value" -}}
{{- end -}}
{{- range $key, $value := .Values.gpu.nodeSelector -}}
{{- printf "%s=%s" $key $value -}}
{{- end -}}
{{- end -}}

{{- define "matchday.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
