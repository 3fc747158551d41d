package libct

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/runc/libcontainer/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/wakehq/wake/agent/runtime"
)

// SeccompSupported says whether containers get a seccomp filter here:
// libcontainer applies one only in binaries built with cgo and the
// "seccomp" build tag (linking libseccomp), and only on kernels that have
// seccomp. Elsewhere RuntimeDefault containers run unfiltered (the agent
// logs it once) rather than not at all.
func SeccompSupported() bool {
	seccompOnce.Do(func() {
		seccompOK, seccompWhy = seccompSupport()
		if !seccompOK {
			slog.Warn("containers run without a seccomp filter", "reason", seccompWhy)
		}
	})
	return seccompOK
}

var (
	seccompOnce sync.Once
	seccompOK   bool
	seccompWhy  string
)

func seccompSupport() (bool, string) {
	if !seccomp.Enabled {
		return false, "this binary was built without seccomp support (build with cgo, libseccomp-dev and -tags seccomp)"
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil || !bytes.Contains(status, []byte("\nSeccomp:")) {
		return false, "the kernel has no seccomp support"
	}
	return true, ""
}

// seccompProfile is the filter for a container whose OCI spec is otherwise
// complete (its capabilities decide part of the profile), or nil for none.
func seccompProfile(s *runtime.ContainerSpec, spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	switch s.Seccomp.Type {
	case runtime.SeccompUnconfined:
		return nil, nil
	case runtime.SeccompLocalhost:
		return localhostSeccomp(s.Seccomp.LocalhostProfile)
	}
	if s.Privileged || !SeccompSupported() { // privileged containers run unconfined, as in Kubernetes
		return nil, nil
	}
	return defaultSeccomp(spec.Process.Capabilities.Bounding), nil
}

// defaultSeccomp is the RuntimeDefault profile: the allowlist of Docker's
// and containerd's default profile (moby/profiles, containerd's
// contrib/seccomp), with io_uring left out as both now do. Every other
// system call fails with EPERM; clone3 fails with ENOSYS so that libcs
// fall back to clone, whose namespace flags the profile can inspect.
// Some calls are allowed only with the capability they need anyway
// (defaultSeccompByCap).
func defaultSeccomp(bounding []string) *specs.LinuxSeccomp {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	allow := slices.Clone(defaultSeccompAllow)
	allow = append(allow, defaultSeccompByArch[goruntime.GOARCH]...)
	if kernelAtLeast(4, 8) { // before 4.8, ptrace could bypass seccomp
		allow = append(allow, "ptrace")
	}
	admin := slices.Contains(bounding, "CAP_SYS_ADMIN")
	for _, c := range bounding {
		allow = append(allow, defaultSeccompByCap[c]...)
	}
	slices.Sort(allow)
	allow = slices.Compact(allow)
	p := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   seccompArches[goruntime.GOARCH],
		Syscalls:        []specs.LinuxSyscall{{Names: allow, Action: specs.ActAllow}},
	}
	// personality: only the usual execution domains (PER_LINUX,
	// PER_LINUX32, UNAME26 variants, and the query 0xffffffff).
	for _, persona := range []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff} {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{
			Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: persona, Op: specs.OpEqualTo}},
		})
	}
	if !admin {
		// clone without namespace flags only (new namespaces need
		// CAP_SYS_ADMIN); s390 swaps clone's first two arguments.
		flagsArg := uint(0)
		if goruntime.GOARCH == "s390x" {
			flagsArg = 1
		}
		p.Syscalls = append(p.Syscalls,
			specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{
				Index: flagsArg, Op: specs.OpMaskedEqual, Value: namespaceFlags, ValueTwo: 0,
			}}},
			specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		)
	}
	return p
}

const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// kernelAtLeast compares the running kernel's release with major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	release := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return ma > major || ma == major && mi >= minor
}

// seccompArches are the ABIs a process of GOARCH can call the kernel
// with: all are filtered, so that a 32-bit entry point is no way around.
var seccompArches = map[string][]specs.Arch{
	"amd64":   {specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
	"arm64":   {specs.ArchARM, specs.ArchAARCH64},
	"386":     {specs.ArchX86},
	"arm":     {specs.ArchARM},
	"ppc64le": {specs.ArchPPC64LE},
	"s390x":   {specs.ArchS390, specs.ArchS390X},
	"riscv64": {specs.ArchRISCV64},
	"mips64":  {specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32},
}

var defaultSeccompByArch = map[string][]string{
	"amd64":   {"arch_prctl", "modify_ldt"},
	"386":     {"modify_ldt"},
	"arm64":   {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"},
	"arm":     {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"},
	"ppc64le": {"sync_file_range2", "swapcontext"},
	"s390x":   {"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"},
	"riscv64": {"riscv_flush_icache"},
}

// defaultSeccompByCap are the calls allowed only to containers whose
// bounding set has the capability.
var defaultSeccompByCap = map[string][]string{
	"CAP_DAC_READ_SEARCH": {"open_by_handle_at"},
	"CAP_SYS_ADMIN": {"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
		"lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at", "open_tree",
		"perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog",
		"umount", "umount2", "unshare"},
	"CAP_SYS_BOOT":       {"reboot"},
	"CAP_SYS_CHROOT":     {"chroot"},
	"CAP_SYS_MODULE":     {"delete_module", "init_module", "finit_module"},
	"CAP_SYS_PACCT":      {"acct"},
	"CAP_SYS_PTRACE":     {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"},
	"CAP_SYS_RAWIO":      {"iopl", "ioperm"},
	"CAP_SYS_TIME":       {"settimeofday", "stime", "clock_settime", "clock_settime64"},
	"CAP_SYS_TTY_CONFIG": {"vhangup"},
	"CAP_SYSLOG":         {"syslog"},
	"CAP_BPF":            {"bpf"},
	"CAP_PERFMON":        {"perf_event_open"},
}

// defaultSeccompAllow is allowed to every container. Not in it, among
// others: keyctl, add_key and request_key (the kernel keyring is not
// namespaced), unshare, mount and setns without CAP_SYS_ADMIN, kexec_*,
// init_module, userfaultfd, io_uring_*, open_by_handle_at, swapon.
var defaultSeccompAllow = strings.Fields(`
	accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
	clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
	clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat
	dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2
	epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group
	faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat
	fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
	fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64
	futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64
	getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer
	getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32
	getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
	get_thread_area gettid gettimeofday getuid getuid32 getxattr
	inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
	io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get
	ioprio_set io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset
	landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr
	_llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create
	memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect
	mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
	mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall
	munmap nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
	pidfd_send_signal pipe pipe2 poll ppoll ppoll_time64 prctl pread64 preadv preadv2
	prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read
	readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
	remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq
	rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
	rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
	sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
	sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
	sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
	semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto
	setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer
	setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32
	setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
	set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack
	signalfd signalfd4 sigprocmask sigreturn socket socketcall socketpair splice stat stat64
	statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill
	time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
	timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
	timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname
	unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid
	waitpid write writev
`)

// localhostSeccomp reads a Localhost profile: OCI seccomp JSON. A profile
// that cannot be enforced (a binary without seccomp support) or read is an
// error: the container must not start unconfined when a profile was asked.
func localhostSeccomp(path string) (*specs.LinuxSeccomp, error) {
	if !SeccompSupported() {
		return nil, fmt.Errorf("seccomp profile %s: this wake has no seccomp support (build with -tags seccomp and libseccomp)", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	var p specs.LinuxSeccomp
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", path, err)
	}
	if p.DefaultAction == "" {
		return nil, fmt.Errorf("seccomp profile %s: no defaultAction", path)
	}
	for i, sc := range p.Syscalls {
		if len(sc.Names) == 0 || sc.Action == "" {
			return nil, fmt.Errorf("seccomp profile %s: syscalls[%d] needs names and an action", path, i)
		}
	}
	return &p, nil
}
