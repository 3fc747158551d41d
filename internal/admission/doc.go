// Package admission defaults and validates objects on their way into the log,
// as kube-apiserver's defaulting, validation and built-in admission plugins do
// for the upstream v1 types.
//
// Four functions make up the package: Default fills unset fields; ValidateCreate
// checks a new object; ValidateUpdate checks a new version against the stored
// one (immutable fields); ValidateName checks a name in a URL before anything
// is decoded. Errors are field.ErrorLists worded as Kubernetes words them, so
// the gateway turns them into the same 422 Status kubectl users know.
//
// The package is pure: no I/O, no clock, no randomness, no lookups of other
// objects. It must not:
//   - allocate anything (cluster IPs, node ports: another component does);
//   - resolve references to other objects (PriorityClass values other than the
//     two built-in system classes, ServiceAccounts, Namespaces, quotas);
//   - generate names (generateName is resolved by the caller first).
//
// Callers must, as kube-apiserver's registry does:
//   - set metadata (namespace, uid, creationTimestamp) before Default on
//     create: a Job's selector and pod labels are generated from its uid;
//   - call Default on every decoded body, updates included, before validating,
//     and carry server-owned fields (uid, creationTimestamp, status, allocated
//     clusterIP and nodePorts) from the stored object into an update.
//
// Decisions worth knowing:
//   - Default applies pod-only defaults (requests from limits, enableServiceLinks,
//     serviceAccountName "default", priority, preemptionPolicy) to Pods and
//     PodSpec defaults to every pod template, as upstream does.
//   - Service names are DNS-1123 labels (Kubernetes' RelaxedServiceNameValidation).
//   - A Pod's terminationGracePeriodSeconds may change on update; upstream
//     allows only a negative value to become 1.
//   - metadata.resourceVersion is not required on update (the gateway owns
//     it), and an update may set deletionTimestamp and
//     deletionGracePeriodSeconds (the gateway deletes through updates), never
//     clear them.
//   - CronJob time zones are checked with time.LoadLocation; the package
//     embeds time/tzdata so that machines without a zoneinfo database agree.
package admission
