"""Check a TorchScript archive before anything loads it: only pure tensor operations may appear.

A TorchScript archive carries code (`code/**/*.py`, TorchScript's Python-like syntax) that runs
when it is loaded (`__setstate__`) and on every forward. This module reads that code with
Python's `ast` (never executing it) and the archive's pickles with `pickletools` (never
unpickling them), and refuses the archive when it uses:
- an op outside `ALLOWED_OPS` (as `torch.<op>` or `ops.aten.<op>`): no `from_file`, `save`,
  `load`, `as_strided`, storage access …;
- an op namespace other than `aten` and the listed `prim` ops (custom ops, unknown libraries);
- `__setstate__` (code that runs at load), or a method call on anything but the archive's own
  modules and classes;
- a pickled object other than tensors, storages and the archive's own classes.
The kernel sandbox of the executor is the second wall: this check keeps what it can see out.
"""

import ast
import pickletools
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ganstudio.inference.formats import SAFE_EXPORT_HINT, CheckpointError

MAX_CODE_BYTES = 64 * 1024 * 1024  # all code and pickles together, uncompressed
MAX_MEMBERS = 100_000

# Pure tensor operations: arithmetic, activations, convolutions, norms, pooling, resampling,
# padding, shapes, reductions, creation, and TorchScript's list/str/int helpers. An op is added
# here only when it computes on its inputs and touches nothing else (no files, storages, raw
# memory or processes).
ALLOWED_OPS = frozenset(
    """
    abs abs_ absolute acos acosh add add_ addcdiv addcmul addmm addmv alias_copy all
    allclose amax amin aminmax angle any arange argmax argmin argsort asin asinh atan atan2
    atanh baddbmm bernoulli bitwise_and bitwise_not bitwise_or bitwise_xor bmm
    broadcast_tensors broadcast_to bucketize cat ceil ceil_ celu chunk clamp clamp_
    clamp_max clamp_min clip clone col2im concat concatenate conj constant_pad_nd contiguous
    copy_ copysign cos cosh cross cummax cummin cumprod cumsum deg2rad detach diag
    diag_embed diagonal diff digamma dim dist div div_ divide dot dropout dropout_ einsum
    elu elu_ embedding empty empty_like eq equal erf erfc erfinv exp exp2 expand expand_as
    expm1 eye feature_dropout fill fill_ flatten flip fliplr flipud float_power floor floor_
    floor_divide fmax fmin fmod frac full full_like gather gcd ge gelu glu greater
    greater_equal grid_sampler grid_sampler_2d group_norm gt hardshrink hardsigmoid
    hardsigmoid_ hardswish hardswish_ hardtanh hardtanh_ heaviside hypot i0 im2col index
    index_add index_copy index_fill index_put index_put_ index_select instance_norm
    is_floating_point is_complex isclose isfinite isinf isnan kron kthvalue layer_norm lcm
    ldexp le leaky_relu leaky_relu_ lerp less less_equal lgamma linalg_norm
    linalg_vector_norm linear linspace log log10 log1p log2 log_sigmoid log_softmax
    logaddexp logcumsumexp logical_and logical_not logical_or logical_xor logit logspace
    logsumexp lt masked_fill masked_fill_ masked_scatter masked_select matmul max max_pool1d
    max_pool2d max_pool3d max_pool2d_with_indices maximum mean median meshgrid min minimum
    mish mm movedim moveaxis mul mul_ multiply mv nan_to_num nanmean nanmedian nansum narrow
    ne neg negative new_empty new_full new_ones new_zeros nonzero norm normal numel one_hot
    ones ones_like pad permute pixel_shuffle pixel_unshuffle polar pow pow_ prelu prod
    rad2deg rand rand_like randint randn randn_like reciprocal reflection_pad1d
    reflection_pad2d reflection_pad3d relu relu6 relu_ remainder renorm repeat
    repeat_interleave replication_pad1d replication_pad2d replication_pad3d reshape
    reshape_as rms_norm roll rot90 round rrelu rsqrt rsub scalar_tensor scatter scatter_add
    scatter_reduce searchsorted select selu sgn sigmoid sigmoid_ sign signbit silu silu_ sin
    sinc sinh size slice smooth_l1_loss softmax softplus softshrink sort split
    split_with_sizes sqrt square squeeze stack std std_mean sub sub_ subtract sum swapaxes
    swapdims t take tan tanh tanh_ tensor tensor_split threshold threshold_ tile topk
    transpose tril triu true_divide trunc type_as unbind unflatten unfold unique_consecutive
    unsqueeze upsample_bicubic2d upsample_bilinear2d upsample_linear1d upsample_nearest1d
    upsample_nearest2d upsample_nearest3d upsample_trilinear3d var var_mean view view_as
    where xlogy zero_ zeros zeros_like mish_ celu_ selu_ rrelu_ alpha_dropout alpha_dropout_
    feature_alpha_dropout feature_alpha_dropout_ feature_dropout_ gelu_ softplus_ erf_ exp_
    log_ sqrt_ rsqrt_ neg_ round_ trunc_ div_ fmod_ remainder_ lerp_ addcmul_ addcdiv_
    masked_scatter_ scatter_ scatter_add_ index_add_ index_fill_ index_copy_ clamp_min_
    clamp_max_ abs_ sign_ _convolution convolution conv1d conv2d conv3d conv_transpose1d
    conv_transpose2d conv_transpose3d batch_norm _batch_norm_impl_index native_batch_norm
    native_layer_norm native_group_norm adaptive_avg_pool1d adaptive_avg_pool2d
    adaptive_avg_pool3d adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d
    avg_pool1d avg_pool2d avg_pool3d _adaptive_avg_pool2d _upsample_lanczos2d_aa
    _upsample_nearest_exact1d _upsample_nearest_exact2d _upsample_nearest_exact3d
    _upsample_bilinear2d_aa _upsample_bicubic2d_aa _pad_circular _pad_enum
    affine_grid_generator _unsafe_view _reshape_alias _to_copy _log_softmax _softmax to
    device dtype layout requires_grad_ stride float half bfloat16 double long int bool
    __and__ __or__ __xor__ __not__ __is__ __isnot__ __contains__ __getitem__
    __round_to_zero_floordiv __range_length __derive_index __interpolate __upsample
    __upsample_bilinear __lshift__ __rshift__ _set_item _assert _dim_arange append insert
    extend pop clear copy len list keys values items get setdefault format join split_str
    str warn floordiv divmod sqrt tolist item Int Float Bool ScalarImplicit IntImplicit
    FloatImplicit _infer_size __interpolate_helper is_grad_enabled is_scripting
    _no_grad_uniform_ _no_grad_normal_
    """.split()  # noqa: SIM905 - a word list reads better than 300 quoted strings
)
PRIM_OPS = frozenset(
    """
    RaiseException unchecked_cast unchecked_unwrap_optional NumToTensor min max abs device
    dtype layout isinstance data is_cuda is_cpu is_mps Uninitialized rangelist StringIndex
    Print TupleIndex TupleUnpack shape
    """.split()  # noqa: SIM905 - a word list reads better than 300 quoted strings
)
# Names a call or attribute may never use on anything, whatever it is called on.
FORBIDDEN_NAMES = frozenset(
    """
    __setstate__ from_file save load _load_for_mobile _save_for_lite_interpreter as_strided
    as_strided_ as_strided_copy set_ storage untyped_storage _typed_storage data_ptr
    share_memory_ pin_memory record_stream to_dlpack from_dlpack _from_file open eval exec
    compile __import__ globals locals vars breakpoint system popen fork
    """.split()  # noqa: SIM905 - a word list reads better than 300 quoted strings
)
ALLOWED_GLOBALS_EXACT = frozenset(
    {
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch", "device"),
    }
)
ALLOWED_GLOBAL_MODULES = frozenset({"torch.jit._pickle"})


@dataclass(frozen=True)
class Finding:
    where: str  # "code/__torch__/net.py line 12"
    what: str  # "torch.from_file is not a pure tensor operation"

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def check_torchscript(source: BinaryIO) -> None:
    """Raise CheckpointError naming what the archive uses that is not allowed."""
    findings = list(archive_findings(source))
    if findings:
        shown = "; ".join(str(f) for f in findings[:3])
        more = f" (and {len(findings) - 3} more)" if len(findings) > 3 else ""
        raise CheckpointError(
            "Refused: this TorchScript archive uses something other than pure tensor "
            f"operations, so it was not loaded — {shown}{more}. Export the network as "
            f"safetensors (rebuilt from models/, no code runs). {SAFE_EXPORT_HINT}"
        )


def archive_findings(source: BinaryIO) -> Iterator[Finding]:
    """Yield every disallowed use in a TorchScript archive."""
    source.seek(0)
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        yield Finding("archive", "it is not a readable zip archive")
        return
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            yield Finding("archive", f"it has {len(members):,} files (at most {MAX_MEMBERS:,})")
            return
        budget = MAX_CODE_BYTES
        code = {}
        for member in members:
            name = _inner_name(member.filename)
            if not (name.endswith((".py", ".pkl", ".debug_pkl"))):
                continue  # tensor data, version, byteorder: bytes, never code
            if member.file_size > budget:
                yield Finding(name, "the archive's code is larger than GAN Studio reads")
                return
            budget -= member.file_size
            data = archive.read(member)
            if name.endswith(".py"):
                if not name.startswith("code/"):
                    yield Finding(name, "Python code outside the archive's code/ folder")
                code[name] = data
            else:
                yield from _pickle_findings(name, data)
        methods = _defined_methods(code)
        for name, data in code.items():
            yield from _code_findings(name, data, methods)


def _inner_name(filename: str) -> str:
    # Archives hold one top folder named after the module ("net/code/..."); drop it.
    return filename.split("/", 1)[1] if "/" in filename else filename


def _parse(name: str, data: bytes) -> ast.Module | None:
    try:
        return ast.parse(data.decode("utf-8"), filename=name)
    except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
        return None


def _defined_methods(code: dict[str, bytes]) -> set[str]:
    """Return the names of every function the archive defines (its modules' methods)."""
    names: set[str] = set()
    for name, data in code.items():
        tree = _parse(name, data)
        if tree is not None:
            names.update(n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
    return names


def _code_findings(name: str, data: bytes, methods: set[str]) -> Iterator[Finding]:
    tree = _parse(name, data)
    if tree is None:
        yield Finding(name, "the code cannot be read as TorchScript")
        return
    for node in ast.walk(tree):
        where = f"{name} line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.FunctionDef) and node.name in FORBIDDEN_NAMES:
            yield Finding(where, f"it defines {node.name}, code that runs when it is loaded")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            yield Finding(where, "it imports a module")
        elif isinstance(node, ast.Attribute):
            problem = _attribute_problem(node, methods)
            if problem:
                yield Finding(where, problem)
        elif isinstance(node, ast.Call):
            problem = _call_problem(node, methods)
            if problem:
                yield Finding(where, problem)


def _dotted(node: ast.expr) -> list[str] | None:
    """Return ["torch", "nn", "x"] for `torch.nn.x`; None when not a plain dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _attribute_problem(node: ast.Attribute, methods: set[str]) -> str | None:
    dotted = _dotted(node)
    if dotted and dotted[0] == "torch" and len(dotted) == 2:
        if dotted[1] not in ALLOWED_OPS:
            return f"torch.{dotted[1]} is not a pure tensor operation"
        return None
    if dotted and dotted[0] == "ops":
        if len(dotted) != 3:
            return None if len(dotted) < 3 else f"{'.'.join(dotted)} is not an op GAN Studio runs"
        _, namespace, op = dotted
        if namespace == "aten" and op in ALLOWED_OPS:
            return None
        if namespace == "prim" and op in PRIM_OPS:
            return None
        if namespace not in ("aten", "prim"):
            return f"ops.{namespace}.{op} comes from an unknown op namespace ({namespace})"
        return f"ops.{namespace}.{op} is not a pure tensor operation"
    if dotted and dotted[0] in ("torch", "__torch__"):
        if any(part in FORBIDDEN_NAMES for part in dotted) or "classes" in dotted[1:3]:
            return f"{'.'.join(dotted)} is not allowed"
        return None  # the archive's own classes and functions (checked where defined)
    if node.attr in FORBIDDEN_NAMES:
        return f".{node.attr} is not allowed"
    return None


def _call_problem(node: ast.Call, methods: set[str]) -> str | None:
    func = node.func
    if isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
        return f"it calls {func.id}"
    if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
        attr = node.args[1]
        if not isinstance(attr, ast.Constant) or not isinstance(attr.value, str):
            return "getattr with a name computed at run time"
        if attr.value in FORBIDDEN_NAMES or attr.value.startswith("__"):
            return f"getattr(…, {attr.value!r}) is not allowed"
    if isinstance(func, ast.Attribute):
        dotted = _dotted(func)
        rooted = dotted is not None and dotted[0] in ("torch", "ops", "__torch__")
        if not rooted and func.attr not in methods:
            return f".{func.attr}(…) calls a method the archive does not define"
    return None


def _pickle_findings(name: str, data: bytes) -> Iterator[Finding]:
    strings: list[str] = []
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            if isinstance(arg, str):
                strings.append(arg)
            if opcode.name == "GLOBAL":
                module, _, qualname = str(arg).partition(" ")
            elif opcode.name == "STACK_GLOBAL":
                if len(strings) < 2:
                    yield Finding(name, "a pickled object whose type cannot be read")
                    continue
                module, qualname = strings[-2], strings[-1]
            elif opcode.name in ("REDUCE", "BUILD", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX"):
                continue  # only globals name code; their use is checked through them
            else:
                continue
            if not _global_allowed(module, qualname):
                yield Finding(name, f"it pickles {module}.{qualname}, which is not a tensor")
    except Exception as exc:  # pickletools raises ValueError and others on damaged data
        yield Finding(name, f"a pickle that cannot be read ({exc.__class__.__name__})")


def _global_allowed(module: str, qualname: str) -> bool:
    if (module, qualname) in ALLOWED_GLOBALS_EXACT or module in ALLOWED_GLOBAL_MODULES:
        return True
    if module == "torch" and qualname.endswith("Storage"):
        return True
    # The archive's own classes; __torch__.torch.classes are C++ extension classes.
    return module.startswith("__torch__") and not module.startswith("__torch__.torch.classes")
