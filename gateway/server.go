package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/audit"
	"github.com/wakehq/wake/internal/admission"
	"github.com/wakehq/wake/projections"
)

// Config is what a gateway serves from.
type Config struct {
	Log        *events.Log
	Projection *projections.Projection
	Tokens     Tokens
	// Source names this gateway in the events it appends ("wake/gateway").
	Source string
	Logger *slog.Logger
	// Now is the clock; tests may fix it. Default time.Now.
	Now func() time.Time
	// RequestTimeout bounds every request but watches. Default 60s.
	RequestTimeout time.Duration
	// MetricsTimeout bounds the wait for the nodes' answers to a
	// metrics.k8s.io read (metrics.go; default DefaultMetricsTimeout).
	MetricsTimeout time.Duration
	// Services configures cluster IPs, node ports and the `kubernetes`
	// Service (services.go).
	Services ServiceNetwork
	// AuditTrust is the signers `wake audit verify` (GET
	// /apis/wake.io/v1/audit/verify) trusts: every wake writer's public
	// key, asked at each verify (nodes join while it serves). Nil or
	// empty, signatures are reported as not checked.
	AuditTrust func() (audit.Trust, error)
}

// Server is one gateway.
type Server struct {
	log       *events.Log
	proj      *projections.Projection
	tokens    Tokens
	source    string
	logger    *slog.Logger
	now       func() time.Time
	timeout   time.Duration
	discovery discoveryDocs
	svcnet    *serviceNet
	// metricsTimeout bounds a metrics read's wait for nodes (metrics.go).
	metricsTimeout time.Duration
	auditTrust     func() (audit.Trust, error)
	// admission is the chain every write runs through (internal/admission).
	admission *admission.Chain
}

// New returns a gateway for cfg.
func New(cfg Config) *Server {
	s := &Server{
		log: cfg.Log, proj: cfg.Projection, tokens: cfg.Tokens, source: cfg.Source,
		logger: cfg.Logger, now: cfg.Now, timeout: cfg.RequestTimeout,
		discovery: buildDiscovery(), svcnet: newServiceNet(cfg.Services),
		metricsTimeout: cfg.MetricsTimeout, auditTrust: cfg.AuditTrust,
		admission: admission.Builtin,
	}
	if s.metricsTimeout <= 0 {
		s.metricsTimeout = DefaultMetricsTimeout
	}
	if s.source == "" {
		s.source = "wake/gateway"
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.timeout == 0 {
		s.timeout = 60 * time.Second
	}
	return s
}

type requestIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Handler is the gateway's HTTP API.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			id := uuid.NewString()
			w.Header().Set("Audit-Id", id)
			next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), requestIDKey{}, id)))
		})
	})
	r.Use(s.authenticate)
	s.routeDiscovery(r)
	r.HandleFunc("/api/v1/*", func(w http.ResponseWriter, req *http.Request) {
		s.serveResource(w, req, "", "v1", chi.URLParam(req, "*"))
	})
	r.Route("/apis/"+WakeGroup+"/v1", s.routeWake)
	s.routeMetrics(r)
	r.HandleFunc("/apis/{group}/{version}/*", func(w http.ResponseWriter, req *http.Request) {
		s.serveResource(w, req, chi.URLParam(req, "group"), chi.URLParam(req, "version"), chi.URLParam(req, "*"))
	})
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, notFoundPath(req.URL.Path), schema.GroupResource{}, "")
	})
	return r
}

// Serve answers HTTPS on ln until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		TLSConfig:         tlsConfig,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.Serve(tls.NewListener(ln, tlsConfig))
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, group, version, rest string) {
	select {
	case <-s.proj.Ready():
	default:
		writeError(w, r, errNotReady, schema.GroupResource{}, "")
		return
	}
	t, err := parseTarget(group, version, rest)
	if err != nil {
		writeError(w, r, err, t.gr(), t.name)
		return
	}
	if t.subresource == "log" { // a stream, possibly endless: no request timeout
		if err := s.podLog(w, r, t); err != nil {
			writeError(w, r, err, t.gr(), t.name)
		}
		return
	}
	if t.subresource == "exec" { // an interactive session: no request timeout
		if err := s.podExec(w, r, t); err != nil {
			writeError(w, r, err, t.gr(), t.name)
		}
		return
	}
	if t.subresource == "portforward" { // a tunnel for as long as the client keeps it
		if err := s.podPortForward(w, r, t); err != nil {
			writeError(w, r, err, t.gr(), t.name)
		}
		return
	}
	v := verb(r, t)
	if v != "watch" {
		ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout(r))
		defer cancel()
		r = r.WithContext(ctx)
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.requestTimeout(r)))
	}
	if _, err := negotiate(r); err != nil {
		writeError(w, r, err, t.gr(), t.name)
		return
	}
	opts, err := readOptions(w, r, v)
	if err != nil {
		writeError(w, r, err, t.gr(), t.name)
		return
	}
	r = withOptions(r, opts)
	switch {
	case v == "get":
		err = s.get(w, r, t)
	case v == "list":
		err = s.list(w, r, t)
	case v == "watch":
		err = s.watch(w, r, t)
	case v == "create" && t.name == "":
		err = s.create(w, r, t)
	case v == "update" && t.name != "":
		err = s.replace(w, r, t)
	case v == "patch" && t.name != "":
		err = s.patch(w, r, t)
	case v == "delete":
		err = s.delete(w, r, t)
	case v == "deletecollection" && t.subresource == "":
		err = s.deleteCollection(w, r, t)
	default:
		err = methodNotAllowed(r, t)
	}
	if err != nil {
		writeError(w, r, err, t.gr(), t.name)
	}
}

func (s *Server) requestTimeout(r *http.Request) time.Duration {
	if d, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && d > 0 && d < s.timeout {
		return d
	}
	return s.timeout
}

func notFoundPath(path string) error {
	return statusError(404, "NotFound", fmt.Sprintf("the server could not find the requested resource (%s)", path))
}
