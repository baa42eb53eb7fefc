"""torch.Tensor's indexing replaced for a while, and put back as it was.

torch 1.13 hands basic indexing (x[0], x[:, 1:]) to no torch-function mode,
so the recorder and the anti-cheat's watch see it by replacing
torch.Tensor.__getitem__ (and __setitem__). A __getitem__ in a Python
class's own dict fills CPython's sequence slot (sq_item) too, and deleting
it again leaves that slot filled: every tensor then passes
PySequence_Check, and torch.tensor([a, b]) of 0-dim tensors asks each its
len() and raises "len() of a 0-d tensor" for the rest of the process
(HuBERT's pretraining mask makes one so). So the slot is read before and
written back as soon as the methods are in, and again once they are out:
x[i] goes through the mapping slot (mp_subscript) all the same.
"""

import contextlib
import ctypes
import sys
import sysconfig

import torch

# PyTypeObject's fields before tp_as_sequence, in pointer-sized words:
# ob_refcnt, ob_type, ob_size, tp_name, tp_basicsize, tp_itemsize,
# tp_dealloc, tp_vectorcall_offset, tp_getattr, tp_setattr, tp_as_async,
# tp_repr, tp_as_number (a layout CPython has kept since 3.5).
_AS_SEQUENCE = 13 * ctypes.sizeof(ctypes.c_void_p)
# PySequenceMethods: sq_length, sq_concat, sq_repeat, then sq_item.
_SQ_ITEM = 3 * ctypes.sizeof(ctypes.c_void_p)


def _layout_known():
    """Whether torch.Tensor's type object has the layout above: a CPython
    with the GIL (a free-threaded build's object header is larger), whose
    tp_name field, the fourth word, names Tensor."""
    if sys.implementation.name != "cpython" or sysconfig.get_config_var("Py_GIL_DISABLED"):
        return False
    name = ctypes.c_void_p.from_address(id(torch.Tensor) + 3 * ctypes.sizeof(ctypes.c_void_p)).value
    return bool(name) and ctypes.c_char_p(name).value == b"Tensor"


def _sq_item_address():
    if not _layout_known():
        return None  # the slot stays as CPython leaves it
    methods = ctypes.c_void_p.from_address(id(torch.Tensor) + _AS_SEQUENCE).value
    return methods + _SQ_ITEM if methods else None


@contextlib.contextmanager
def tensor_methods(**methods):
    """Within: torch.Tensor.<name> is each given function. After: what
    torch.Tensor had, its own or inherited, and its sequence slot."""
    own = {name: vars(torch.Tensor)[name] for name in methods if name in vars(torch.Tensor)}
    slot = _sq_item_address()
    sq_item = ctypes.c_void_p.from_address(slot).value if slot else None
    try:
        for name, function in methods.items():
            setattr(torch.Tensor, name, function)
        _write(slot, sq_item)
        yield
    finally:
        for name in methods:
            if name in own:
                setattr(torch.Tensor, name, own[name])
            elif name in vars(torch.Tensor):
                delattr(torch.Tensor, name)
        _write(slot, sq_item)


def _write(slot, value):
    if slot:
        ctypes.c_void_p.from_address(slot).value = value
