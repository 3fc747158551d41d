// Package image is the node's content-addressed image store.
//
// It owns everything between a reference ("nginx", "registry:5000/app@sha256:…")
// or a tarball on disk and a list of read-only layer directories that the
// runtime stacks with overlayfs:
//
//	<root>/blobs/sha256/<hex>    manifests and config files, by digest
//	<root>/layers/sha256/<hex>   one unpacked directory per layer, by DiffID
//	<root>/images.json           references → manifest/config digests, layers
//
// A layer is unpacked once, into a temporary directory that is renamed into
// place only after its DiffID has been verified, so a crash never leaves a
// half-unpacked layer under its final name. Every tar entry is validated
// (see [ValidateEntry]) and written through an [os.Root], so no entry can
// escape its layer directory through "..", absolute paths or symlinks; device
// nodes and FIFOs are skipped and overlay-internal xattrs are refused. OCI
// whiteouts become overlayfs whiteouts (0/0 character devices and the
// trusted.overlay.opaque xattr), which is why unpacking needs root.
//
// The store must not run containers, know about pods or talk to the control
// plane: the agent decides when to pull (imagePullPolicy) and reports
// ErrImagePull from the errors returned here, which keep the registry's own
// reason.
package image
