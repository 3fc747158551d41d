package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sys/unix"

	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/agent/internal/natsserve"
	"github.com/wakehq/wake/events/access"
)

// The image protocol: `wake image ls` and `wake image import` reach the
// node's store through its agent, the only process that may write it.
//
//	client ── request {"v":1,"op":"ls"} ──► wake.node.<node>.images
//	agent  ── {"images":[…]} or {"error":{…}}
//
//	client ── request {"v":1,"op":"import","size":N,"name":"app.tar"} ──► wake.node.<node>.images
//	agent  ── {"upload":"<inbox U>","chunk":C}    (or an error: too big, bad request)
//	client ── request, Wake-Image-Seq: 1, 2, …, ≤ C bytes each ──► U
//	agent  ── {} after writing each chunk (flow control: one chunk in flight)
//	client ── request, Wake-Image-End: <sha256 of all bytes> ──► U
//	agent  ── {"images":[…]} once imported, or {"error":{…}}
//	client ── Wake-Image-Cancel ──► U   (gives up; the agent drops the upload)
//
// The upload waits in the store's tmp directory and is imported only when
// complete, of the announced size and checksum; Import validates every
// entry and records the tarball's images all at once or not at all. An
// upload silent for ImageUploadIdle is dropped; nothing is left behind.
const (
	ImageProtocolVersion = 1
	ImageChunk           = 256 << 10
	ImageUploadIdle      = time.Minute

	HeaderImageSeq    = "Wake-Image-Seq"
	HeaderImageEnd    = "Wake-Image-End"
	HeaderImageCancel = "Wake-Image-Cancel"
)

// ImagesSubject is where the agent of node answers image requests.
func ImagesSubject(node string) string { return access.NodeSubject(node, access.VerbImages) }

// ImageRequest is a request on ImagesSubject.
type ImageRequest struct {
	V    int    `json:"v"`
	Op   string `json:"op"`             // "ls" or "import"
	Size int64  `json:"size,omitempty"` // import: bytes to come
	Name string `json:"name,omitempty"` // import: the file's name, for messages
}

// ImageReply answers a request or an upload message.
type ImageReply struct {
	Images []image.Image `json:"images,omitempty"`
	Upload string        `json:"upload,omitempty"`
	Chunk  int           `json:"chunk,omitempty"`
	Error  *ImageError   `json:"error,omitempty"`
}

// ImageError is a failed image request; Reason is a Kubernetes Status
// reason (BadRequest, RequestEntityTooLarge, InternalError, …).
type ImageError struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (e *ImageError) Error() string { return e.Reason + ": " + e.Message }

// ImageServer answers the image requests of one node from its store.
type ImageServer struct {
	NC     *nats.Conn
	Node   string
	Store  *image.Store
	Logger *slog.Logger
	// Available is the bytes free for uploads (default: statfs of
	// StateDir); Idle defaults to ImageUploadIdle.
	StateDir  string
	Available func() int64
	Idle      time.Duration
}

func (a *Agent) imageServer() *ImageServer {
	return &ImageServer{NC: a.cfg.Log.JetStream().Conn(), Node: a.cfg.NodeName, Store: a.images, Logger: a.log, StateDir: a.cfg.StateDir}
}

// Run answers requests until ctx ends, then waits for the uploads it
// started (which see ctx end and clean up).
func (s *ImageServer) Run(ctx context.Context) error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Idle <= 0 {
		s.Idle = ImageUploadIdle
	}
	if s.Available == nil {
		s.Available = func() int64 {
			var st unix.Statfs_t
			if unix.Statfs(s.StateDir, &st) != nil {
				return -1
			}
			return int64(st.Bavail) * st.Bsize
		}
	}
	if err := natsserve.Serve(ctx, s.NC, ImagesSubject(s.Node), s.serve); err != nil {
		return fmt.Errorf("images: subscribe: %w", err)
	}
	return nil
}

func imageRespond(m *nats.Msg, r ImageReply) {
	b, _ := json.Marshal(r)
	m.Respond(b)
}

func imageFail(m *nats.Msg, reason, format string, args ...any) {
	imageRespond(m, ImageReply{Error: &ImageError{Reason: reason, Message: fmt.Sprintf(format, args...)}})
}

func (s *ImageServer) serve(ctx context.Context, m *nats.Msg) {
	var req ImageRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.V != ImageProtocolVersion {
		imageFail(m, "BadRequest", "image request not understood (version %d): %v", req.V, err)
		return
	}
	switch req.Op {
	case "ls":
		imageRespond(m, ImageReply{Images: s.Store.List()})
	case "import":
		s.upload(ctx, m, req)
	default:
		imageFail(m, "BadRequest", "unknown image operation %q", req.Op)
	}
}

// upload receives one tarball and imports it.
func (s *ImageServer) upload(ctx context.Context, m *nats.Msg, req ImageRequest) {
	if req.Size <= 0 {
		imageFail(m, "BadRequest", "import: size must be positive")
		return
	}
	if avail := s.Available(); avail >= 0 && req.Size > avail {
		imageFail(m, "RequestEntityTooLarge", "import: %d bytes do not fit in the %d free on node %s", req.Size, avail, s.Node)
		return
	}
	f, err := s.Store.CreateTemp("upload-*.tar")
	if err != nil {
		imageFail(m, "InternalError", "import: %v", err)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	ch := make(chan *nats.Msg, 4)
	inbox := s.NC.NewInbox()
	sub, err := s.NC.ChanSubscribe(inbox, ch)
	if err != nil {
		imageFail(m, "InternalError", "import: %v", err)
		return
	}
	defer sub.Unsubscribe()
	imageRespond(m, ImageReply{Upload: inbox, Chunk: ImageChunk})

	h := sha256.New()
	var got int64
	var seq uint64
	idle := time.NewTimer(s.Idle)
	defer idle.Stop()
	for {
		var c *nats.Msg
		select {
		case <-ctx.Done():
			return
		case <-idle.C:
			s.Logger.Warn("image upload abandoned", "name", req.Name, "received", got, "size", req.Size)
			return
		case c = <-ch:
		}
		idle.Reset(s.Idle)
		switch {
		case c.Header.Get(HeaderImageCancel) != "":
			imageRespond(c, ImageReply{})
			return
		case c.Header.Get(HeaderImageEnd) != "":
			if got != req.Size {
				imageFail(c, "BadRequest", "import %s: %d bytes received, %d announced", req.Name, got, req.Size)
				return
			}
			if sum := hex.EncodeToString(h.Sum(nil)); c.Header.Get(HeaderImageEnd) != sum {
				imageFail(c, "BadRequest", "import %s: checksum %s does not match the upload's %s", req.Name, c.Header.Get(HeaderImageEnd), sum)
				return
			}
			if err := f.Close(); err != nil {
				imageFail(c, "InternalError", "import %s: %v", req.Name, err)
				return
			}
			ims, err := s.Store.Import(f.Name())
			if err != nil {
				if u := errors.Unwrap(err); u != nil {
					err = u // without the temporary file's name
				}
				imageFail(c, "BadRequest", "import %s: %v", req.Name, err)
				return
			}
			r := ImageReply{}
			for _, im := range ims {
				r.Images = append(r.Images, *im)
			}
			s.Logger.Info("images imported", "name", req.Name, "count", len(ims))
			imageRespond(c, r)
			return
		}
		n, err := strconv.ParseUint(c.Header.Get(HeaderImageSeq), 10, 64)
		if err != nil || n != seq+1 {
			imageFail(c, "BadRequest", "import %s: chunk %q out of sequence (want %d)", req.Name, c.Header.Get(HeaderImageSeq), seq+1)
			return
		}
		seq = n
		if len(c.Data) > ImageChunk || got+int64(len(c.Data)) > req.Size {
			imageFail(c, "BadRequest", "import %s: more than the %d bytes announced", req.Name, req.Size)
			return
		}
		if _, err := f.Write(c.Data); err != nil {
			imageFail(c, "InternalError", "import %s: %v", req.Name, err)
			return
		}
		h.Write(c.Data)
		got += int64(len(c.Data))
		imageRespond(c, ImageReply{})
	}
}

// ImageClient asks a node's agent about its images (the wake CLI).
type ImageClient struct {
	NC   *nats.Conn
	Node string
	// Timeout bounds each request but the last of an import (default
	// 30s); ImportTimeout bounds that one, the import itself (default 10m).
	Timeout, ImportTimeout time.Duration
}

func (c *ImageClient) timeouts() (time.Duration, time.Duration) {
	t, it := c.Timeout, c.ImportTimeout
	if t <= 0 {
		t = 30 * time.Second
	}
	if it <= 0 {
		it = 10 * time.Minute
	}
	return t, it
}

func (c *ImageClient) request(ctx context.Context, m *nats.Msg, timeout time.Duration) (ImageReply, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.NC.RequestMsgWithContext(ctx, m)
	if errors.Is(err, nats.ErrNoResponders) {
		return ImageReply{}, &ImageError{Reason: "ServiceUnavailable", Message: fmt.Sprintf("no agent answers for node %q", c.Node)}
	}
	if err != nil {
		return ImageReply{}, err
	}
	var r ImageReply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return r, fmt.Errorf("the agent of node %q answered %q: %w", c.Node, resp.Data, err)
	}
	if r.Error != nil {
		return r, r.Error
	}
	return r, nil
}

func (c *ImageClient) ask(ctx context.Context, req ImageRequest) (ImageReply, error) {
	req.V = ImageProtocolVersion
	b, _ := json.Marshal(req)
	t, _ := c.timeouts()
	return c.request(ctx, &nats.Msg{Subject: ImagesSubject(c.Node), Data: b}, t)
}

// List returns the images of the node's store.
func (c *ImageClient) List(ctx context.Context) ([]image.Image, error) {
	r, err := c.ask(ctx, ImageRequest{Op: "ls"})
	return r.Images, err
}

// Import uploads size bytes of a docker-archive or OCI-layout tarball
// from r and returns the images the node imported. progress, when set,
// is called with the bytes sent so far.
func (c *ImageClient) Import(ctx context.Context, r io.Reader, size int64, name string, progress func(int64)) ([]image.Image, error) {
	start, err := c.ask(ctx, ImageRequest{Op: "import", Size: size, Name: name})
	if err != nil {
		return nil, err
	}
	if start.Upload == "" || start.Chunk <= 0 {
		return nil, fmt.Errorf("the agent of node %q did not offer an upload", c.Node)
	}
	t, it := c.timeouts()
	cancel := func() {
		c.NC.PublishMsg(&nats.Msg{Subject: start.Upload, Header: nats.Header{HeaderImageCancel: {"1"}}})
	}
	h := sha256.New()
	buf := make([]byte, start.Chunk)
	var sent int64
	for seq := 1; ; seq++ {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			h.Write(buf[:n])
			m := &nats.Msg{Subject: start.Upload, Data: buf[:n], Header: nats.Header{HeaderImageSeq: {strconv.Itoa(seq)}}}
			if _, err := c.request(ctx, m, t); err != nil {
				cancel()
				return nil, err
			}
			sent += int64(n)
			if progress != nil {
				progress(sent)
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			cancel()
			return nil, rerr
		}
	}
	end := &nats.Msg{Subject: start.Upload, Header: nats.Header{HeaderImageEnd: {hex.EncodeToString(h.Sum(nil))}}}
	res, err := c.request(ctx, end, it)
	return res.Images, err
}
