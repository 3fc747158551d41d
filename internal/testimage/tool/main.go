// Command tool is the one program inside wake's test images. It is built
// statically by the tests (CGO_ENABLED=0) and answers to a subcommand:
//
//	tool true             exit 0
//	tool exit N           exit with code N
//	tool serve ADDR       HTTP server answering "hello from <hostname>"
//	tool sleep            block until SIGTERM (then exit 143) or SIGKILL
//	tool alloc MIB        touch MIB mebibytes of memory, then exit 0
//	tool inspect          print the process's view of itself as JSON
//	tool cat FILE...      print files, each as "== FILE mode\n<content>"
//	tool fetch URL N      GET URL N times, a new connection each, printing "fetch <i> <body>" or "fetch <i> error <err>"
//	tool syscall NAME...  try system calls (keyctl, clone3, unshare), print "NAME: ok" or "NAME: errno N (...)"
//	tool tty ROWS COLS    print "tty <stdin's terminal>" and "size R C" on every change until ROWS×COLS
//	tool write PATH TEXT  write TEXT to PATH
//	tool fill PATH BYTES  write BYTES bytes of data (no holes) to PATH, sync, then sleep as "tool sleep"
//	tool spawn N          start N child processes that sleep, then sleep as "tool sleep"
//	tool burn SECONDS     keep one CPU busy for SECONDS seconds, then sleep as "tool sleep"
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tool true|exit N|serve ADDR|sleep|alloc MIB|inspect|cat FILE...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "true":
	case "exit":
		n, _ := strconv.Atoi(arg(2))
		fmt.Println("exiting with", n)
		os.Exit(n)
	case "serve":
		host, _ := os.Hostname()
		fmt.Println("serving on", arg(2))
		err := http.ListenAndServe(arg(2), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %s\n", host)
		}))
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	case "fill":
		n, _ := strconv.ParseInt(arg(3), 10, 64)
		if err := fill(arg(2), n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("filled", arg(2), "with", n, "bytes")
		sleep()
	case "spawn":
		n, _ := strconv.Atoi(arg(2))
		if err := spawn(n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("spawned", n)
		sleep()
	case "burn":
		n, _ := strconv.Atoi(arg(2))
		fmt.Println("burning for", n, "seconds")
		burn(time.Duration(n) * time.Second)
		sleep()
	case "sleep":
		sleep()
	case "alloc":
		mib, _ := strconv.Atoi(arg(2))
		var keep [][]byte
		for i := 0; i < mib; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep), "MiB")
	case "inspect":
		inspect()
	case "fetch":
		fetch(arg(2), arg(3))
	case "syscall":
		trySyscalls(os.Args[2:])
	case "tty":
		watchTerminal(arg(2), arg(3))
	case "write":
		if err := os.WriteFile(arg(2), []byte(arg(3)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "grpc-health":
		grpcHealth(arg(2), arg(3))
	case "cat":
		for _, f := range os.Args[2:] {
			fi, err := os.Stat(f)
			if err == nil && fi.IsDir() {
				fmt.Printf("== %s dir %o\n", f, fi.Mode().Perm()|fi.Mode()&os.ModeSticky>>11)
				continue
			}
			b, err2 := os.ReadFile(f)
			if err != nil || err2 != nil {
				fmt.Printf("== %s error %v %v\n", f, err, err2)
				continue
			}
			fmt.Printf("== %s %o\n%s\n", f, fi.Mode().Perm(), b)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

// sleep blocks until SIGTERM, then exits 143. As PID 1 of its namespace
// the process gets no default signal actions: it handles SIGTERM the way
// a well-behaved server does.
func sleep() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Println("sleeping")
	<-term
	fmt.Println("terminating")
	os.Exit(143)
}

// burn spins on one CPU for d; SIGTERM ends it as it ends sleep.
func burn(d time.Duration) {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		select {
		case <-term:
			fmt.Println("terminating")
			os.Exit(143)
		default:
		}
	}
	signal.Stop(term)
}

// spawn starts n children of this program that sleep (they end with the
// container's process namespace).
func spawn(n int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for range n {
		if err := exec.Command(self, "sleep").Start(); err != nil {
			return err
		}
	}
	return nil
}

// fill writes n bytes that are not zeros (so that no file system makes
// holes of them) to path and syncs it.
func fill(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i%251) + 1
	}
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			f.Close()
			return err
		}
		n -= k
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func arg(i int) string {
	if len(os.Args) > i {
		return os.Args[i]
	}
	return ""
}

func inspect() {
	out := map[string]any{"uid": os.Getuid(), "gid": os.Getgid(), "env": os.Environ(), "args": os.Args}
	out["cwd"], _ = os.Getwd()
	out["hostname"], _ = os.Hostname()
	fds := map[string]string{}
	d, _ := os.Open("/proc/self/fd")
	names, _ := d.Readdirnames(-1)
	for _, n := range names {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", n))
		fds[n] = target
	}
	d.Close()
	out["fds"] = fds
	nss := map[string]string{}
	for _, ns := range []string{"pid", "ipc", "net", "uts", "mnt"} {
		nss[ns], _ = os.Readlink("/proc/self/ns/" + ns)
	}
	out["namespaces"] = nss
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && (k == "CapEff" || k == "CapBnd" || k == "NoNewPrivs" || k == "Seccomp") {
			out[k] = strings.TrimSpace(v)
		}
	}
	// A masked file is /dev/null bind-mounted over it.
	tl, err := os.Stat("/proc/timer_list")
	out["timerListMasked"] = err == nil && tl.Mode()&os.ModeCharDevice != 0
	err = os.WriteFile("/proc/sys/kernel/domainname", []byte("x"), 0)
	out["procSysWritable"] = err == nil
	json.NewEncoder(os.Stdout).Encode(out)
}

// trySyscalls makes system calls a seccomp profile decides on, with
// arguments harmless when they are allowed, and prints how each ended.
func trySyscalls(names []string) {
	for _, name := range names {
		var errno syscall.Errno
		switch name {
		case "keyctl": // KEYCTL_GET_KEYRING_ID of the thread keyring, not creating it
			_, _, errno = unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(unix.KEY_SPEC_THREAD_KEYRING&0xffffffff), 0)
		case "clone3": // no arguments: EINVAL when allowed
			_, _, errno = unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
		case "unshare": // a new UTS namespace needs CAP_SYS_ADMIN
			_, _, errno = unix.Syscall(unix.SYS_UNSHARE, unix.CLONE_NEWUTS, 0, 0)
		default:
			fmt.Printf("%s: unknown\n", name)
			continue
		}
		if errno == 0 {
			fmt.Printf("%s: ok\n", name)
		} else {
			fmt.Printf("%s: errno %d (%v)\n", name, int(errno), errno)
		}
	}
}

// watchTerminal prints the terminal on stdin and its size, then the size
// again whenever it changes, until it is rows×cols (exit 0) or 20 s have
// passed (exit 1).
func watchTerminal(rows, cols string) {
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
		fmt.Println("stdin is not a terminal:", err)
		os.Exit(1)
	}
	name, _ := os.Readlink("/proc/self/fd/0")
	fmt.Println("tty", name)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	tick := time.NewTicker(20 * time.Millisecond)
	deadline := time.After(20 * time.Second)
	last := ""
	for {
		ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
		if err != nil {
			fmt.Println("TIOCGWINSZ:", err)
			os.Exit(1)
		}
		size := fmt.Sprintf("size %d %d", ws.Row, ws.Col)
		if size != last {
			fmt.Println(size)
			last = size
		}
		if size == "size "+rows+" "+cols {
			return
		}
		select {
		case <-winch:
		case <-tick.C:
		case <-deadline:
			os.Exit(1)
		}
	}
}

// fetch GETs url n times, each over a new connection (so that a Service
// balances each one), and prints every answer's body (the server's
// "hello from <hostname>") on one line; it exits 1 if any failed.
func fetch(url, n string) {
	count, _ := strconv.Atoi(n)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	failed := 0
	for i := range count {
		resp, err := client.Get(url)
		if err != nil {
			failed++
			fmt.Printf("fetch %d error %v\n", i, err)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			failed++
			fmt.Printf("fetch %d error status %d %v\n", i, resp.StatusCode, err)
			continue
		}
		fmt.Printf("fetch %d %s\n", i, strings.TrimSpace(string(b)))
	}
	fmt.Printf("fetched %d/%d\n", count-failed, count)
	if failed > 0 {
		os.Exit(1)
	}
}

// grpcHealth serves the gRPC health check (grpc.health.v1.Health/Check)
// over cleartext HTTP/2 on addr, answering status (SERVING or NOT_SERVING)
// for the service "" and "ok", NOT_FOUND for any other.
func grpcHealth(addr, status string) {
	st := map[string]byte{"SERVING": 1, "NOT_SERVING": 2}[status]
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP1(true)
	srv := &http.Server{Addr: addr, Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		service := ""
		if len(body) > 7 && body[5] == 0x0a {
			service = string(body[7:])
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		w.WriteHeader(http.StatusOK)
		if r.URL.Path != "/grpc.health.v1.Health/Check" || (service != "" && service != "ok") {
			w.Header().Set("Grpc-Status", "5")
			return
		}
		w.Write([]byte{0, 0, 0, 0, 2, 0x08, st})
		w.Header().Set("Grpc-Status", "0")
	})}
	fmt.Println("grpc health on", addr, status)
	fmt.Fprintln(os.Stderr, srv.ListenAndServe())
	os.Exit(1)
}
