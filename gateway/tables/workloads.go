package tables

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Upstream takes some descriptions from the older API versions; so do we,
// so that the text matches.
var (
	rsSpecDoc     = extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()
	rsStatusDoc   = extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()
	dsStatusDoc   = extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()
	deployStatDoc = extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()
	cronSpecDoc   = batchv1beta1.CronJobSpec{}.SwaggerDoc()
	cronStatusDoc = batchv1beta1.CronJobStatus{}.SwaggerDoc()
	jobSpecDoc    = batchv1.JobSpec{}.SwaggerDoc()
)

var deploymentPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Ready", "string", "Number of the pod with ready state"),
	col("Up-to-date", "string", deployStatDoc["updatedReplicas"]),
	col("Available", "string", deployStatDoc["availableReplicas"]),
	colAge,
	colContainers,
	colImages,
	wide(col("Selector", "string", extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"])),
}, func(d *appsv1.Deployment, now time.Time) ([]any, error) {
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	selector := "<invalid>"
	if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		selector = s.String()
	}
	return []any{
		d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, int32Or0(d.Spec.Replicas)),
		int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), age(d.CreationTimestamp, now),
		names, images, selector,
	}, nil
})

var replicaSetPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Desired", "integer", rsSpecDoc["replicas"]),
	col("Current", "integer", rsStatusDoc["replicas"]),
	col("Ready", "integer", rsStatusDoc["readyReplicas"]),
	colAge,
	colContainers,
	colImages,
	wide(col("Selector", "string", rsSpecDoc["selector"])),
}, func(rs *appsv1.ReplicaSet, now time.Time) ([]any, error) {
	names, images := containerCells(rs.Spec.Template.Spec.Containers)
	return []any{
		rs.Name, int64(int32Or0(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
		age(rs.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
	}, nil
})

var statefulSetPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Ready", "string", "Number of the pod with ready state"),
	colAge,
	colContainers,
	colImages,
}, func(ss *appsv1.StatefulSet, now time.Time) ([]any, error) {
	names, images := containerCells(ss.Spec.Template.Spec.Containers)
	return []any{
		ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, int32Or0(ss.Spec.Replicas)),
		age(ss.CreationTimestamp, now), names, images,
	}, nil
})

var daemonSetPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Desired", "integer", dsStatusDoc["desiredNumberScheduled"]),
	col("Current", "integer", dsStatusDoc["currentNumberScheduled"]),
	col("Ready", "integer", dsStatusDoc["numberReady"]),
	col("Up-to-date", "integer", dsStatusDoc["updatedNumberScheduled"]),
	col("Available", "integer", dsStatusDoc["numberAvailable"]),
	col("Node Selector", "string", podSpecDoc["nodeSelector"]),
	colAge,
	colContainers,
	colImages,
	wide(col("Selector", "string", extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"])),
}, func(ds *appsv1.DaemonSet, now time.Time) ([]any, error) {
	st := ds.Status
	names, images := containerCells(ds.Spec.Template.Spec.Containers)
	return []any{
		ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady),
		int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable),
		labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector), age(ds.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(ds.Spec.Selector),
	}, nil
})

var controllerRevisionPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Controller", "string", "Controller of the object"),
	col("Revision", "string", appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"]),
	colAge,
}, func(cr *appsv1.ControllerRevision, now time.Time) ([]any, error) {
	controller := "<none>"
	if ref := metav1.GetControllerOf(cr); ref != nil {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("tables: controller revision %s: %w", cr.Name, err)
		}
		controller = ref.Name
		if gk := gv.WithKind(ref.Kind).GroupKind(); !gk.Empty() {
			controller = strings.ToLower(gk.String()) + "/" + ref.Name
		}
	}
	return []any{cr.Name, controller, cr.Revision, age(cr.CreationTimestamp, now)}, nil
})

var jobPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Status", "string", "Status of the job."),
	col("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
	col("Duration", "string", "Time required to complete the job."),
	colAge,
	colContainers,
	colImages,
	wide(col("Selector", "string", jobSpecDoc["selector"])),
}, func(j *batchv1.Job, now time.Time) ([]any, error) {
	names, images := containerCells(j.Spec.Template.Spec.Containers)
	return []any{
		j.Name, jobStatus(j), jobCompletions(j), jobDuration(j, now), age(j.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(j.Spec.Selector),
	}, nil
})

func jobCompletions(j *batchv1.Job) string {
	if j.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	}
	if p := int32Or0(j.Spec.Parallelism); p > 1 {
		return fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, p)
	}
	return fmt.Sprintf("%d/1", j.Status.Succeeded)
}

func jobDuration(j *batchv1.Job, now time.Time) string {
	switch {
	case j.Status.StartTime == nil:
		return ""
	case j.Status.CompletionTime == nil:
		return duration.HumanDuration(now.Sub(j.Status.StartTime.Time))
	}
	return duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
}

// jobStatus names the job's state; finished beats terminating beats the rest.
func jobStatus(j *batchv1.Job) string {
	switch {
	case jobCondition(j, batchv1.JobComplete):
		return "Complete"
	case jobCondition(j, batchv1.JobFailed):
		return "Failed"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(j, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(j, batchv1.JobFailureTarget):
		return "FailureTarget"
	}
	return "Running"
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

var cronJobPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Schedule", "string", cronSpecDoc["schedule"]),
	col("Timezone", "string", cronSpecDoc["timeZone"]),
	col("Suspend", "boolean", cronSpecDoc["suspend"]),
	col("Active", "integer", cronStatusDoc["active"]),
	col("Last Schedule", "string", cronStatusDoc["lastScheduleTime"]),
	colAge,
	colContainers,
	colImages,
	wide(col("Selector", "string", jobSpecDoc["selector"])),
}, func(cj *batchv1.CronJob, now time.Time) ([]any, error) {
	last := "<none>"
	if t := cj.Status.LastScheduleTime; t != nil {
		last = age(*t, now)
	}
	tz := "<none>"
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	tmpl := cj.Spec.JobTemplate.Spec
	names, images := containerCells(tmpl.Template.Spec.Containers)
	return []any{
		cj.Name, cj.Spec.Schedule, tz, boolPtr(cj.Spec.Suspend), int64(len(cj.Status.Active)), last,
		age(cj.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(tmpl.Selector),
	}, nil
})

var pdbPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Min Available", "string", "The minimum number of pods that must be available."),
	col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
	col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
	colAge,
}, func(pdb *policyv1.PodDisruptionBudget, now time.Time) ([]any, error) {
	minAvailable, maxUnavailable := "N/A", "N/A"
	if v := pdb.Spec.MinAvailable; v != nil {
		minAvailable = v.String()
	}
	if v := pdb.Spec.MaxUnavailable; v != nil {
		maxUnavailable = v.String()
	}
	return []any{pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), age(pdb.CreationTimestamp, now)}, nil
})
