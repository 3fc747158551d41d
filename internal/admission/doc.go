// Package admission is what every object passes on its way into the log,
// whoever writes it: the server's fields on a create, defaulting and
// validation as kube-apiserver's defaulting, validation and built-in
// admission plugins do for the upstream v1 types, and the deletion rules
// (what holds a deleted object; the pod grace period).
//
// Where it lives, and why: the gateway (for clients), the controllers and
// the scheduler (through services/reconcile) and the agent all write
// objects, so admission sits below every writer and none of them owns it.
// It cannot live in events/ (which must not interpret Kubernetes objects)
// and it is not a fold (projections/), so it lives in internal/, which
// every part of wake may import and nothing outside wake can. The floor
// rule: admission may import events/ (events/kinds) and projections/ (for
// the steps to come that read state, through interfaces defined here),
// never services/, agent/, gateway/ or cmd/; they import it.
//
// The chain. Admission is an ordered Chain of small plugins, one interface
// per extension point, as the Kubernetes scheduler framework does:
//
//	create: CreatePreparer ──► Defaulter ──► CreateValidator ──► 422 or append
//	update:                    Defaulter ──► UpdateValidator ──► 422 or append
//	delete: GracePeriodRule (how long, finished by whom) and
//	        DeletionHolder (what keeps a deleted object)
//
// A plugin implements the extension points it takes part in (checked at
// compile time, var _ Defaulter = Defaults{}); New sorts a list of plugins
// into them, keeping their order. Registry is the built-in order —
// ServerFields, Defaults, Validation, Finalizers, PodGrace — and Builtin the
// chain every writer calls. Quota, LimitRange, ServiceAccount, Pod Security,
// webhook and CRD steps are new plugins placed in Registry, as
// kube-apiserver orders its plugins (mutating after Defaults, validating
// after Validation). The built-in plugins wrap the package's functions:
// Default fills unset fields; ValidateCreate checks a new object;
// ValidateUpdate checks a new version against the stored one (immutable
// fields); ValidateName checks a name in a URL before anything is decoded
// (outside the chain: nothing is decoded yet). Errors are field.ErrorLists
// worded as Kubernetes words them, so every writer turns them into the same
// 422 Status kubectl users know.
//
// The deletion rules are one rule each, called by the gateway and by
// services/reconcile: Finalizers holds a deleted object while metadata
// finalizers (or a namespace's spec finalizers) remain; PodGrace gives a
// pod running on a node the request's grace period, else its
// terminationGracePeriodSeconds, else 30 s, and every other object none.
// What a writer does with them differs today and is kept: reconcile leaves
// a deleting pod on a node for its agent to finish, whereas the gateway
// records a client's deletion of such a pod at once (with its grace period
// in the deleted object).
//
// The built-in plugins are pure: no I/O, no clock (the writer passes Now),
// no randomness (the writer passes the uid), no lookups of other objects.
// They must not:
//   - allocate anything (cluster IPs, node ports: another component does);
//   - resolve references to other objects (PriorityClass values other than the
//     two built-in system classes, ServiceAccounts, Namespaces, quotas);
//   - generate names (generateName is resolved by the caller first).
//
// Callers must, as kube-apiserver's registry does:
//   - create through Chain.AdmitCreate with the object's namespace set, so
//     that ServerFields sets uid and creationTimestamp before Default: a
//     Job's selector and pod labels are generated from its uid;
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
