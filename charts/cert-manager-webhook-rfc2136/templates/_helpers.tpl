{{/* Names, labels and computed values shared by the templates. */}}

{{/* The chart name, or nameOverride. */}}
{{- define "rfc2136.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name: fullnameOverride, or <release>-<name>, or
the release name when it already contains the name. At most 63 characters
and a DNS-1035 label, because it is also the Service's name.
*/}}
{{- define "rfc2136.fullname" -}}
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

{{- define "rfc2136.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the webhook's pods; never change after install. */}}
{{- define "rfc2136.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rfc2136.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "rfc2136.labels" -}}
helm.sh/chart: {{ include "rfc2136.chart" . }}
{{ include "rfc2136.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "rfc2136.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rfc2136.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "rfc2136.groupName" -}}
{{- required "groupName is required: a name under a domain you own, e.g. acme.example.com" .Values.groupName }}
{{- end }}

{{/* image: repository:tag, or repository@digest when a digest is set. */}}
{{- define "rfc2136.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* PKI object names. */}}
{{- define "rfc2136.selfSignedIssuer" -}}
{{ include "rfc2136.fullname" . }}-selfsign
{{- end }}
{{- define "rfc2136.rootCACertificate" -}}
{{ include "rfc2136.fullname" . }}-ca
{{- end }}
{{- define "rfc2136.rootCAIssuer" -}}
{{ include "rfc2136.fullname" . }}-ca
{{- end }}
{{- define "rfc2136.servingCertificate" -}}
{{ include "rfc2136.fullname" . }}-webhook-tls
{{- end }}

{{/* The namespaces whose Secrets the webhook may read, as a JSON list. */}}
{{- define "rfc2136.secretNamespaces" -}}
{{- $ns := .Values.secrets.namespaces }}
{{- if not $ns }}
{{- $ns = list .Values.certManager.namespace }}
{{- end }}
{{- toJson (uniq $ns) }}
{{- end }}

{{/* The private key block of a Certificate. */}}
{{- define "rfc2136.privateKey" -}}
privateKey:
  algorithm: {{ .Values.pki.privateKeyAlgorithm }}
  size: {{ .Values.pki.privateKeySize }}
  rotationPolicy: Always
{{- end }}

{{/*
The --metrics-bind-address value: HOST:PORT, an IPv6 host in brackets,
an empty host for every address family.
*/}}
{{- define "rfc2136.metricsAddress" -}}
{{- $host := .Values.metrics.bindAddress | default "" }}
{{- if and (contains ":" $host) (not (hasPrefix "[" $host)) }}
{{- $host = printf "[%s]" $host }}
{{- end }}
{{- printf "%s:%v" $host .Values.metrics.port }}
{{- end }}

{{/*
"true" when metrics are served beyond the pod's loopback, so a Service,
a container port and a NetworkPolicy rule make sense for them.
*/}}
{{- define "rfc2136.metricsExposed" -}}
{{- $host := trimAll "[]" (.Values.metrics.bindAddress | default "") }}
{{- if and .Values.metrics.enabled (not (has $host (list "127.0.0.1" "::1" "localhost"))) -}}
true
{{- end }}
{{- end }}
