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
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	case "sleep":
		// As PID 1 of its namespace the process gets no default signal
		// actions: handle SIGTERM the way a well-behaved server does.
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		fmt.Println("sleeping")
		<-term
		fmt.Println("terminating")
		os.Exit(143)
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
