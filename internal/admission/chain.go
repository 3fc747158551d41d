package admission

import (
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/wakehq/wake/events/kinds"
)

// Plugin is one step of the admission chain. A step implements the
// extension points it takes part in (one small interface each, as the
// Kubernetes scheduler framework has one per extension point); Name says
// which step it is.
type Plugin interface {
	Name() string
}

// CreatePreparer sets what the server owns on a new object (uid, creation
// time, generation, initial status), before it is defaulted.
type CreatePreparer interface {
	Plugin
	PrepareCreate(obj runtime.Object, c Create)
}

// Defaulter fills unset fields. It must be idempotent: it runs on every
// create and on updates too.
type Defaulter interface {
	Plugin
	Default(obj runtime.Object)
}

// CreateValidator checks a new, prepared and defaulted object.
type CreateValidator interface {
	Plugin
	ValidateCreate(obj runtime.Object) field.ErrorList
}

// UpdateValidator checks a new version of an object against the stored one.
type UpdateValidator interface {
	Plugin
	ValidateUpdate(obj, old runtime.Object) field.ErrorList
}

// DeletionHolder says whether something keeps a deleted object in the log
// (finalizers): a held object keeps its deletion timestamp until it is
// released.
type DeletionHolder interface {
	Plugin
	Holds(obj runtime.Object) bool
}

// GracePeriodRule says whether obj winds down before it is gone, finished
// by its node's agent, and for how many seconds (requested is the
// DeleteOptions' gracePeriodSeconds, or nil). The first rule that applies
// decides.
type GracePeriodRule interface {
	Plugin
	GracePeriod(obj runtime.Object, requested *int64) (seconds int64, applies bool)
}

// Chain is an ordered list of plugins, sorted at construction into the
// extension points each implements; every extension point runs its plugins
// in the chain's order. A Chain is immutable and safe for concurrent use.
type Chain struct {
	plugins    []Plugin
	preparers  []CreatePreparer
	defaulters []Defaulter
	creates    []CreateValidator
	updates    []UpdateValidator
	holders    []DeletionHolder
	graces     []GracePeriodRule
}

// New returns the chain of plugins, in their order.
func New(plugins ...Plugin) *Chain {
	c := &Chain{plugins: plugins}
	for _, p := range plugins {
		if x, ok := p.(CreatePreparer); ok {
			c.preparers = append(c.preparers, x)
		}
		if x, ok := p.(Defaulter); ok {
			c.defaulters = append(c.defaulters, x)
		}
		if x, ok := p.(CreateValidator); ok {
			c.creates = append(c.creates, x)
		}
		if x, ok := p.(UpdateValidator); ok {
			c.updates = append(c.updates, x)
		}
		if x, ok := p.(DeletionHolder); ok {
			c.holders = append(c.holders, x)
		}
		if x, ok := p.(GracePeriodRule); ok {
			c.graces = append(c.graces, x)
		}
	}
	return c
}

// Registry is the built-in chain's plugins, in order. The steps to come
// take their places here, as kube-apiserver orders its plugins: mutating
// steps (LimitRanger, ServiceAccount, mutating webhooks) after Defaults,
// validating steps (PodSecurity, ResourceQuota, CRD schemas, validating
// webhooks) after Validation.
func Registry() []Plugin {
	return []Plugin{
		ServerFields{},
		Defaults{},
		Validation{},
		Finalizers{},
		PodGrace{},
	}
}

// Builtin is the chain every writer calls: the gateway for clients, the
// controllers and the agent (through services/reconcile) for themselves.
var Builtin = New(Registry()...)

// Plugins lists the chain's plugins, in order.
func (c *Chain) Plugins() []Plugin { return append([]Plugin(nil), c.plugins...) }

// PrepareCreate runs every CreatePreparer.
func (c *Chain) PrepareCreate(obj runtime.Object, cr Create) {
	for _, p := range c.preparers {
		p.PrepareCreate(obj, cr)
	}
}

// Default runs every Defaulter.
func (c *Chain) Default(obj runtime.Object) {
	for _, p := range c.defaulters {
		p.Default(obj)
	}
}

// ValidateCreate runs every CreateValidator and joins what they find.
func (c *Chain) ValidateCreate(obj runtime.Object) field.ErrorList {
	var errs field.ErrorList
	for _, p := range c.creates {
		errs = append(errs, p.ValidateCreate(obj)...)
	}
	return errs
}

// ValidateUpdate runs every UpdateValidator and joins what they find.
func (c *Chain) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	var errs field.ErrorList
	for _, p := range c.updates {
		errs = append(errs, p.ValidateUpdate(obj, old)...)
	}
	return errs
}

// AdmitCreate admits a new object of kind k: it prepares, defaults and
// validates it, and returns a 422 Invalid error for what is wrong.
func (c *Chain) AdmitCreate(k kinds.Kind, obj runtime.Object, cr Create) error {
	c.PrepareCreate(obj, cr)
	c.Default(obj)
	return invalid(k, obj, c.ValidateCreate(obj))
}

// Held reports whether something keeps obj, once deleted, in the log.
func (c *Chain) Held(obj runtime.Object) bool {
	for _, p := range c.holders {
		if p.Holds(obj) {
			return true
		}
	}
	return false
}

// GracePeriod is how long obj winds down before it is gone, and whether it
// does at all (a pod running on a node, finished by its agent); requested
// is the DeleteOptions' gracePeriodSeconds, or nil. Objects no rule covers
// go at once.
func (c *Chain) GracePeriod(obj runtime.Object, requested *int64) (seconds int64, graceful bool) {
	for _, p := range c.graces {
		if s, ok := p.GracePeriod(obj, requested); ok {
			return s, true
		}
	}
	return 0, false
}

func invalid(k kinds.Kind, obj runtime.Object, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	name := ""
	if m, err := meta.Accessor(obj); err == nil {
		name = m.GetName()
	}
	return apierrors.NewInvalid(k.GVK().GroupKind(), name, errs)
}
