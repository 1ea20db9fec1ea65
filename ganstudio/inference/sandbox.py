"""Confine the process that runs pushed networks: Landlock, seccomp and resource limits.

Used only inside executor processes (`ganstudio.inference.executor_child`), never in the server.
Each layer is applied where the kernel offers it, and `self_test` measures what really blocks:
- **Landlock** (Linux ≥ 5.13, unprivileged): reads only below Python's prefixes, the
  `ganstudio`/`models` packages and system libraries; no file writes anywhere, no TCP, no
  signals or abstract sockets outside the sandbox. A small ctypes binding to its three
  syscalls (the PyPI `landlock` package is a dev release).
- **seccomp** through libseccomp (ctypes; part of every Debian/Ubuntu base system): no new
  processes (fork, vfork, clone without CLONE_THREAD, exec), no sockets, no ptrace,
  io_uring, bpf, mount or namespaces. Threads are still allowed — torch needs them.
- **rlimits**: address space, CPU seconds, open files, file size 0, no core dumps.
"""

import ctypes
import errno
import os
import resource
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

# --- Landlock (include/uapi/linux/landlock.h); syscall numbers are the same on every arch.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_TRUNCATE = 1 << 14
FS_IOCTL_DEV = 1 << 15
# Every filesystem right each ABI knows: handled (and so denied unless a rule grants it).
_FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_ONLY_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

# System paths Python, glibc, torch and the CUDA driver read. Never the data dir: see self_test.
SYSTEM_READ_PATHS = (
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib32",
    "/lib",
    "/lib64",
    "/usr/local/lib",
    "/usr/local/cuda",
    "/usr/share/locale",
    "/usr/share/zoneinfo",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/ssl",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/driver/nvidia",
    "/sys/devices/system/cpu",
    "/sys/devices/system/node",
    "/sys/fs/cgroup",
    "/dev/urandom",
    "/dev/random",
)
DEVICE_GLOBS = ("nvidia*",)  # GPU device files: read, write and ioctl (CUDA talks through them)


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def landlock_abi() -> int:
    """Return the kernel's Landlock ABI version (0 when Landlock is absent or disabled)."""
    result = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(result), 0)


def _fs_rights(abi: int) -> int:
    return next(r for level, r in sorted(_FS_RIGHTS_BY_ABI.items(), reverse=True) if abi >= level)


def restrict_filesystem(read_paths: list[Path], device_paths: list[Path] | None = None) -> int:
    """Allow reads below `read_paths` only; deny every write, TCP and outside signal.

    Returns the ABI applied (0: Landlock unavailable, nothing applied). Applies to the calling
    thread and the threads and processes it starts later, so call it before torch starts any.
    """
    abi = landlock_abi()
    if abi < 1:
        return 0
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled_access_fs=handled)
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    ruleset = _libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in read_paths:
            _add_rule(ruleset, path, FS_READ_FILE | FS_READ_DIR)
        device_rights = FS_READ_FILE | FS_WRITE_FILE | (FS_IOCTL_DEV if abi >= 5 else 0)
        for path in device_paths or []:
            _add_rule(ruleset, path, device_rights)
        _add_rule(ruleset, Path("/dev/null"), FS_READ_FILE | FS_WRITE_FILE)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if _libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def _add_rule(ruleset: int, path: Path, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path this machine does not have needs no rule
    try:
        if not os.path.isdir(f"/proc/self/fd/{fd}"):
            rights &= _FILE_ONLY_RIGHTS  # the kernel refuses directory rights on a file
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        if _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)


# --- seccomp through libseccomp.
_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_MASKED_EQ = 7
_CLONE_THREAD = 0x00010000
_SCMP_FLTATR_CTL_TSYNC = 4  # enum scmp_filter_attr in seccomp.h
DENIED_SYSCALLS = (
    "execve", "execveat", "fork", "vfork",  # no new programs or processes (clone: below)
    "socket", "socketpair",  # no network or new channels; the executor's socket is inherited
    "ptrace", "process_vm_readv", "process_vm_writev",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "bpf", "perf_event_open", "userfaultfd", "kexec_load", "keyctl", "add_key", "request_key",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
)  # fmt: skip


def _scmp_act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _ScmpArgCmp(ctypes.Structure):
    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


def _libseccomp() -> ctypes.CDLL | None:
    # The soname, resolved through ld.so.cache: ctypes.util.find_library would run gcc.
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = (ctypes.c_uint32,)
    lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_rule_add_array.argtypes = (
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
        ctypes.POINTER(_ScmpArgCmp),
    )  # fmt: skip
    lib.seccomp_load.argtypes = (ctypes.c_void_p,)
    lib.seccomp_attr_set.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32)
    lib.seccomp_release.argtypes = (ctypes.c_void_p,)
    return lib


def seccomp_available() -> bool:
    """Return True when libseccomp can be loaded (the seccomp layer can be applied)."""
    return _libseccomp() is not None


def forbid_processes_and_sockets() -> bool:
    """Install the seccomp filter; return False when libseccomp is not installed."""
    lib = _libseccomp()
    if lib is None:
        return False
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        return False
    try:
        # TSYNC: the filter binds every thread of the process, not only the caller: a GPU
        # executor has CUDA's driver threads by now.
        if lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_TSYNC, 1) != 0:
            raise OSError(ctypes.get_errno(), "seccomp TSYNC attribute failed")
        deny = _scmp_act_errno(errno.EPERM)
        for name in DENIED_SYSCALLS:
            _seccomp_rule(lib, ctx, deny, name)
        # clone makes threads too: refuse it only without CLONE_THREAD (a new process).
        new_process = _ScmpArgCmp(0, _SCMP_CMP_MASKED_EQ, _CLONE_THREAD, 0)
        _seccomp_rule(lib, ctx, deny, "clone", new_process)
        # clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc fall back
        # to clone for threads (the same choice Docker and Chromium make).
        _seccomp_rule(lib, ctx, _scmp_act_errno(errno.ENOSYS), "clone3")
        if lib.seccomp_load(ctx) != 0:
            raise OSError(ctypes.get_errno(), "seccomp_load failed")
    finally:
        lib.seccomp_release(ctx)
    return True


def _seccomp_rule(lib: ctypes.CDLL, ctx: int, action: int, name: str, *args: _ScmpArgCmp) -> None:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number == -1:  # __NR_SCMP_ERROR: no such syscall here (e.g. fork on arm64)
        return
    array = (_ScmpArgCmp * len(args))(*args) if args else None
    if lib.seccomp_rule_add_array(ctx, action, number, len(args), array) != 0:
        raise OSError(ctypes.get_errno(), f"seccomp rule for {name} failed")


# --- Resource limits.
@dataclass(frozen=True)
class ExecutorLimits:
    """What one executor process may use (0: no limit)."""

    address_space_bytes: int = 16 * 1024**3
    cpu_seconds: int = 6 * 3600
    open_files: int = 256

    def apply(self, *, gpu: bool) -> dict[str, int]:
        """Set the rlimits; return them by name (CUDA maps more address space than it uses).

        No RLIMIT_NPROC: it counts every process and thread of the user (the server's too) and
        root ignores it; seccomp refuses new processes instead.
        """
        applied = {"file_size_bytes": 0, "core_bytes": 0, "open_files": self.open_files}
        _setrlimit(resource.RLIMIT_FSIZE, 0)  # Python ignores SIGXFSZ, so writes fail EFBIG
        _setrlimit(resource.RLIMIT_CORE, 0)
        _setrlimit(resource.RLIMIT_NOFILE, self.open_files)
        if self.cpu_seconds:
            _setrlimit(resource.RLIMIT_CPU, self.cpu_seconds)
            applied["cpu_seconds"] = self.cpu_seconds
        if self.address_space_bytes and not gpu:
            _setrlimit(resource.RLIMIT_AS, self.address_space_bytes)
            applied["address_space_bytes"] = self.address_space_bytes
        return applied


def _setrlimit(kind: int, value: int) -> None:
    _soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


# --- What may be read.
def read_allowlist(package_dirs: list[Path]) -> list[Path]:
    """Return the paths a sandboxed executor may read: Python, its packages, system libraries."""
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths = set(prefixes)
    for entry in sys.path:
        resolved = Path(entry or ".").resolve()
        # sys.path entries outside the prefixes (an editable install's source root, the
        # working directory) may hold a data dir: only the packages themselves are allowed.
        if resolved.is_dir() and any(resolved.is_relative_to(p) for p in prefixes):
            paths.add(resolved)
    paths.update(p.resolve() for p in package_dirs)
    paths.update(Path(p) for p in SYSTEM_READ_PATHS)
    return sorted(paths)


def device_files() -> list[Path]:
    """Return the GPU device files present (CUDA needs them open for read, write and ioctl)."""
    return sorted(p for pattern in DEVICE_GLOBS for p in Path("/dev").glob(pattern))


# --- Measuring what blocks.
@dataclass
class SandboxReport:
    """What was applied in an executor and what its self-test measured."""

    landlock_abi: int = 0
    seccomp: bool = False
    limits: dict[str, int] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)  # e.g. {"write file": "denied"}
    environment: list[str] = field(default_factory=list)  # the variable names it was given
    isolated_mode: bool = False  # python -I: no PYTHON* variables, no cwd on sys.path
    cwd: str = ""
    device: str = ""

    @property
    def active(self) -> bool:
        """True when the kernel sandbox is on and measured to deny data reads and writes."""
        reads = [v for k, v in self.checks.items() if k.startswith("read data file")]
        return (
            self.landlock_abi > 0
            and "denied" in reads
            and all(v in ("denied", "absent") for v in reads)
            and self.checks.get("write file") == "denied"
        )

    def describe(self) -> str:
        """Return one sentence for the status page and /healthz."""
        if not self.landlock_abi:
            return "no kernel sandbox (Landlock unavailable): TorchScript pushes are refused"
        parts = [f"Landlock ABI {self.landlock_abi}"]
        if self.seccomp:
            parts.append("seccomp")
        parts.append("rlimits")
        state = "active" if self.active else "NOT effective"
        return f"{' + '.join(parts)} — {state}"


def self_test(canaries: list[Path], scratch: Path) -> dict[str, str]:
    """Try what a hostile network would try; return each attempt's outcome."""
    checks = {}
    for path in canaries:
        checks[f"read data file: {path.name}"] = _try(lambda p=path: p.open("rb").close())
    checks["write file"] = _try(lambda: (scratch / "probe.txt").open("wb").close())
    checks["network"] = _try(_try_connect)
    checks["new process"] = _try(_try_fork)
    return checks


def _try(action) -> str:
    try:
        action()
    except PermissionError:
        return "denied"
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        return "denied" if exc.errno in (errno.EACCES, errno.EPERM, errno.EFBIG) else "failed"
    return "ALLOWED"


def _try_connect() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(("127.0.0.1", 9))
        except ConnectionRefusedError:
            return  # the kernel let it through: nobody happened to listen


def _try_fork() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
