{{/* Name of one deployment (and its Service and PodDisruptionBudget): <namePrefix>-<key>. */}}
{{- define "jobline.deploymentName" -}}
{{- $d := index .root.Values.deployments .key -}}
{{- default (printf "%s-%s" .root.Values.namePrefix .key) $d.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jobline.secretName" -}}
{{- default (printf "%s-jobline" .Values.namePrefix) .Values.secret.existingSecret -}}
{{- end -}}

{{- define "jobline.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "jobline.labels" -}}
app.kubernetes.io/name: jobline
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector of one deployment's pods; component is the deployment key (jobs, api, ...). */}}
{{- define "jobline.selector" -}}
app.kubernetes.io/name: jobline
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .key }}
{{- end -}}

{{/* The pod's grace: jobline's shutdown grace plus a margin, from the same value. */}}
{{- define "jobline.terminationGrace" -}}
{{- add (int .Values.shutdownGraceSeconds) (int .Values.terminationGraceMarginSeconds) -}}
{{- end -}}

{{/*
Environment shared by the deployments and the migrate Job. Secrets come only through
envFrom (jobline.envFrom); nothing here holds a secret value.
*/}}
{{- define "jobline.commonEnv" -}}
- name: JOBLINE_SCHEMA
  value: {{ .Values.schema | quote }}
- name: JOBLINE_MIGRATE_ON_START
  value: "false"
{{- with .Values.kafka.hosts }}
- name: JOBLINE_KAFKA_HOSTS
  value: {{ . | quote }}
{{- end }}
- name: JOBLINE_JOBS_TOPIC
  value: {{ .Values.kafka.jobsTopic | quote }}
- name: JOBLINE_DLQ_TOPIC
  value: {{ .Values.kafka.dlqTopic | quote }}
- name: JOBLINE_INTAKE_GROUP
  value: {{ .Values.kafka.intakeGroup | quote }}
- name: JOBLINE_DB_PREPARED_STATEMENTS
  value: {{ .Values.database.preparedStatements | toString | quote }}
- name: JOBLINE_DB_SCHEMA_FROM
  value: {{ .Values.database.schemaFrom | quote }}
{{- with .Values.plugins }}
- name: JOBLINE_PLUGINS
  value: {{ . | quote }}
{{- end }}
{{- include "jobline.userEnv" (dict "env" .Values.env "where" "env") }}
{{- end -}}

{{/* User-given JOBLINE_* settings; a database URL there is refused (it is a secret). */}}
{{- define "jobline.userEnv" -}}
{{- $fromChart := dict "JOBLINE_MODE" "deployments.<name>.mode" "JOBLINE_CAPABILITIES" "deployments.<name>.capabilities" "JOBLINE_HTTP_HOST" "the chart (0.0.0.0)" "JOBLINE_HTTP_PORT" "httpPort" "JOBLINE_SHUTDOWN_GRACE_S" "shutdownGraceSeconds" "JOBLINE_MIGRATE_ON_START" "migrate.enabled (always false in pods)" "JOBLINE_DB_PREPARED_STATEMENTS" "database.preparedStatements" "JOBLINE_DB_SCHEMA_FROM" "database.schemaFrom" }}
{{- range $name, $value := .env }}
{{- if hasKey $fromChart $name }}
{{- fail (printf "%s.%s: set by the chart from %s; change that value instead" $.where $name (get $fromChart $name)) }}
{{- end }}
{{- if regexMatch "DATABASE_(DIRECT_)?URL|PASSWORD|SECRET" $name }}
{{- fail (printf "%s.%s: a secret setting is not allowed as a plain value; put it in the Secret (secret.existingSecret or secret.*)" $.where $name) }}
{{- end }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "jobline.envFrom" -}}
- secretRef:
    name: {{ include "jobline.secretName" . }}
{{- end -}}

{{/* Refuse values that would break the deployment in a way Kubernetes would not report. */}}
{{- define "jobline.validate" -}}
{{- $partitions := int .Values.kafka.partitions -}}
{{- $jobs := .Values.deployments.jobs -}}
{{- if and $jobs.enabled (not .Values.autoscaling.enabled) (gt (int $jobs.replicas) $partitions) -}}
{{- fail (printf "deployments.jobs.replicas=%d is above kafka.partitions=%d: a jobs pod beyond the partition count gets no partition; lower the replicas or add partitions to the topic and raise kafka.partitions" (int $jobs.replicas) $partitions) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.maxReplicas) $partitions) -}}
{{- fail (printf "autoscaling.maxReplicas=%d is above kafka.partitions=%d: a jobs pod beyond the partition count gets no partition; lower maxReplicas or add partitions and raise kafka.partitions" (int .Values.autoscaling.maxReplicas) $partitions) -}}
{{- end -}}
{{- if ne (toString .Values.shutdownGraceSeconds) (toString (int .Values.shutdownGraceSeconds)) -}}
{{- fail (printf "shutdownGraceSeconds=%v: must be whole seconds (it also makes terminationGracePeriodSeconds)" .Values.shutdownGraceSeconds) -}}
{{- end -}}
{{- if lt (int .Values.terminationGraceMarginSeconds) 5 -}}
{{- fail (printf "terminationGraceMarginSeconds=%v: must be at least 5, the time jobline needs after its grace to close Kafka and the pools" .Values.terminationGraceMarginSeconds) -}}
{{- end -}}
{{- if and (not .Values.secret.existingSecret) (or (not .Values.secret.databaseUrl) (not .Values.secret.jobsDatabaseUrl)) -}}
{{- fail "no database URLs: set secret.existingSecret to a Secret holding JOBLINE_DATABASE_URL and JOBLINE_JOBS_DATABASE_URL, or set secret.databaseUrl and secret.jobsDatabaseUrl" -}}
{{- end -}}
{{- /* Behind PgBouncer (schemaFrom role) LISTEN through the pooler hears nothing: the chart's
own Secret must then carry both direct URLs (an existing Secret is the operator's to fill). */ -}}
{{- if and (eq .Values.database.schemaFrom "role") (not .Values.secret.existingSecret) (or (not .Values.secret.databaseDirectUrl) (not .Values.secret.jobsDatabaseDirectUrl)) -}}
{{- fail "database.schemaFrom=role (behind PgBouncer) without secret.databaseDirectUrl and secret.jobsDatabaseDirectUrl: LISTEN and migrations through PgBouncer in transaction mode do not work; set both to the databases' direct URLs (not through PgBouncer)" -}}
{{- end -}}
{{- end -}}
