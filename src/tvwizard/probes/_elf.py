"""A small ELF reader for the ``native`` probe: headers and the dynamic segment only.

Runs inside the *target* interpreter: stdlib only, Python 3.8+.  It reads the ELF header,
the program headers and the ``PT_DYNAMIC`` segment with seeks and small reads, never a
whole file (``libtorch_cuda.so`` is close to 1 GB).  32- and 64-bit, both endiannesses.

:func:`read_elf` returns a plain dict::

    {
      "size": int,                     # bytes on disk
      "problem": None | "unreadable" | "empty" | "not-elf" | "bad-elf" | "truncated" | "bad-type",
      "detail": str,                   # only with a problem: what exactly is wrong
      "loadable": bool,                # ld.so could map it (a file cut short only in its
                                       # section headers still loads: problem "truncated")
      "class": 32 | 64, "endian": "little" | "big",
      "machine": int, "machine_name": str,   # e_machine (62 = x86_64, 183 = aarch64 ...)
      "type": int,                     # e_type (2 = EXEC, 3 = DYN)
      "soname": str | None, "needed": [str], "rpath": str | None, "runpath": str | None,
      "flags": int, "flags_1": int,    # DT_FLAGS, DT_FLAGS_1 (DF_1_NODEFLIB = 0x800)
    }

Keys after ``problem`` are present as far as the file could be read.  The reader
reports; it does not judge whether the file suits a given process (see :func:`same_arch`).
"""

import os
import struct

__all__ = ["DF_1_NODEFLIB", "ET_DYN", "ET_EXEC", "arch_name", "cuda_arches", "read_elf", "same_arch"]

ET_EXEC = 2
ET_DYN = 3
PT_LOAD = 1
PT_DYNAMIC = 2
DT_NULL = 0
DT_NEEDED = 1
DT_STRTAB = 5
DT_STRSZ = 10
DT_SONAME = 14
DT_RPATH = 15
DT_RUNPATH = 29
DT_FLAGS = 30
DT_FLAGS_1 = 0x6FFFFFFB
DF_1_NODEFLIB = 0x800
PN_XNUM = 0xFFFF

MACHINES = {
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390",
    40: "arm",
    50: "ia64",
    62: "x86_64",
    183: "aarch64",
    243: "riscv",
    258: "loongarch",
}

_MAX_DYNAMIC = 1 << 20  # a dynamic segment is a few KB; anything bigger is not one
_MAX_PHNUM = 4096
_MAX_STRING = 1 << 16


class _Bad(Exception):
    def __init__(self, problem, detail):
        Exception.__init__(self, detail)
        self.problem = problem
        self.detail = detail


def arch_name(info):
    """``x86_64``, ``aarch64`` ... (or ``machine-N``) for a :func:`read_elf` result."""
    m = info.get("machine")
    return MACHINES.get(m, "machine-%s" % m)


def same_arch(a, b):
    """Whether two :func:`read_elf` results could live in one process (what ld.so checks)."""
    return (
        a.get("class") == b.get("class") and a.get("endian") == b.get("endian") and a.get("machine") == b.get("machine")
    )


def _read_at(f, offset, n):
    f.seek(offset)
    return f.read(n)


def _parse(f, size, info):
    if size == 0:
        raise _Bad("empty", "zero-length file")
    ident = _read_at(f, 0, 16)
    if len(ident) < 4 or ident[:4] != b"\x7fELF":
        raise _Bad("not-elf", "invalid ELF header (magic %r)" % bytes(ident[:4]))
    if len(ident) < 16:
        raise _Bad("truncated", "file too short for an ELF header (%d bytes)" % size)
    ei_class, ei_data = ident[4], ident[5]
    if ei_class not in (1, 2):
        raise _Bad("bad-elf", "unknown ELF class %d" % ei_class)
    if ei_data not in (1, 2):
        raise _Bad("bad-elf", "unknown ELF data encoding %d" % ei_data)
    is64 = ei_class == 2
    e = "<" if ei_data == 1 else ">"
    info["class"] = 64 if is64 else 32
    info["endian"] = "little" if ei_data == 1 else "big"

    ehdr_fmt = e + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH")
    ehdr_size = struct.calcsize(ehdr_fmt)
    raw = _read_at(f, 16, ehdr_size)
    if len(raw) < ehdr_size:
        raise _Bad("truncated", "file too short for an ELF header (%d bytes)" % size)
    hdr = struct.unpack(ehdr_fmt, raw)
    e_type, e_machine, e_phoff, e_shoff = hdr[0], hdr[1], hdr[4], hdr[5]
    e_phentsize, e_phnum, e_shentsize, e_shnum = hdr[8], hdr[9], hdr[10], hdr[11]
    info["type"] = e_type
    info["machine"] = e_machine
    info["machine_name"] = MACHINES.get(e_machine, "machine-%d" % e_machine)

    phdr_fmt = e + ("IIQQQQQQ" if is64 else "IIIIIIII")
    phdr_size = struct.calcsize(phdr_fmt)
    shdr_size = 64 if is64 else 40

    if e_phnum == PN_XNUM and e_shoff:  # the real count lives in section 0's sh_info
        sh0 = _read_at(f, e_shoff, shdr_size)
        if len(sh0) == shdr_size:
            e_phnum = struct.unpack_from(e + "I", sh0, 44 if is64 else 28)[0]
    if e_phnum and e_phentsize < phdr_size:
        raise _Bad("bad-elf", "program header entries of %d bytes" % e_phentsize)
    if e_phnum > _MAX_PHNUM:
        raise _Bad("bad-elf", "%d program headers" % e_phnum)
    if e_phoff + e_phnum * e_phentsize > size:
        raise _Bad("truncated", "program headers end past the end of the file (%d bytes)" % size)
    if e_shoff and e_shnum and e_shentsize and e_shoff + e_shnum * e_shentsize > size:
        # ld.so never reads section headers, but they sit at the very end of a file: a
        # file cut short loses them first.
        info["problem"] = "truncated"
        info["detail"] = "section headers end past the end of the file (%d bytes)" % size

    table = _read_at(f, e_phoff, e_phnum * e_phentsize) if e_phnum else b""
    loads = []
    dynamic = None
    for i in range(e_phnum):
        fields = struct.unpack_from(phdr_fmt, table, i * e_phentsize)
        if is64:
            p_type, _pflags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, _align = fields
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, _pflags, _align = fields
        if p_type in (PT_LOAD, PT_DYNAMIC) and p_filesz and p_offset + p_filesz > size:
            raise _Bad(
                "truncated",
                "segment %d (offset %d, %d bytes) ends past the end of the file (%d bytes)"
                % (i, p_offset, p_filesz, size),
            )
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_memsz, p_offset, p_filesz))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)

    if e_type not in (ET_EXEC, ET_DYN):
        raise _Bad("bad-type", "ELF type %d is not a shared object or an executable" % e_type)
    if dynamic is None:
        return
    _parse_dynamic(f, e, is64, dynamic, loads, info)


def _vaddr_to_offset(loads, addr):
    for vaddr, memsz, offset, filesz in loads:
        if vaddr <= addr < vaddr + max(memsz, filesz):
            if addr - vaddr >= filesz:
                return None
            return addr - vaddr + offset
    return None


def _parse_dynamic(f, e, is64, dynamic, loads, info):
    d_offset, d_size = dynamic
    raw = _read_at(f, d_offset, min(d_size, _MAX_DYNAMIC))
    dyn_fmt = e + ("qQ" if is64 else "iI")
    ent = struct.calcsize(dyn_fmt)
    needed_idx = []
    strtab = strsz = None
    soname = rpath = runpath = None
    flags = flags_1 = 0
    for pos in range(0, len(raw) - ent + 1, ent):
        tag, val = struct.unpack_from(dyn_fmt, raw, pos)
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            needed_idx.append(val)
        elif tag == DT_STRTAB:
            strtab = val
        elif tag == DT_STRSZ:
            strsz = val
        elif tag == DT_SONAME:
            soname = val
        elif tag == DT_RPATH:
            rpath = val
        elif tag == DT_RUNPATH:
            runpath = val
        elif tag == DT_FLAGS:
            flags = val
        elif tag == DT_FLAGS_1:
            flags_1 = val
    info["flags"] = flags
    info["flags_1"] = flags_1
    if strtab is None:
        if needed_idx or soname is not None:
            raise _Bad("bad-elf", "dynamic section without a string table")
        return
    str_off = _vaddr_to_offset(loads, strtab)
    if str_off is None:
        # Some objects (old prelinked or unusual linkers) store DT_STRTAB as a file offset.
        str_off = strtab
    wanted = [i for i in [*needed_idx, soname, rpath, runpath] if i is not None]
    strings = _read_strings(f, str_off, strsz, wanted)
    info["needed"] = [strings.get(i, "") for i in needed_idx]
    info["soname"] = strings.get(soname) if soname is not None else None
    info["rpath"] = strings.get(rpath) if rpath is not None else None
    info["runpath"] = strings.get(runpath) if runpath is not None else None


def _read_strings(f, str_off, strsz, indexes):
    """NUL-terminated strings at ``indexes`` of the string table, in as few reads as fit."""
    out = {}
    if not indexes:
        return out
    limit = strsz if strsz else None
    lo, hi = min(indexes), max(indexes)
    if hi - lo <= 1 << 16:
        end = hi + 4096 if limit is None else min(hi + 4096, limit)
        block = _read_at(f, str_off + lo, max(end - lo, 0))
        for i in indexes:
            s = block[i - lo :]
            nul = s.find(b"\x00")
            if nul >= 0:
                out[i] = s[:nul].decode("utf-8", "surrogateescape")
    for i in indexes:
        if i in out or (limit is not None and i >= limit):
            continue
        chunk = _read_at(f, str_off + i, _MAX_STRING)
        nul = chunk.find(b"\x00")
        out[i] = (chunk if nul < 0 else chunk[:nul]).decode("utf-8", "surrogateescape")
    return out


def read_elf(path):
    """Read what the dynamic loader reads of ``path``; never raises (problems are data)."""
    info = {"size": None, "problem": None}
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            info["size"] = size
            _parse(f, size, info)
    except _Bad as exc:
        info["problem"] = exc.problem
        info["detail"] = exc.detail
    except struct.error as exc:
        info["problem"] = "bad-elf"
        info["detail"] = "malformed headers: %s" % exc
    except OSError as exc:
        info["problem"] = "unreadable"
        info["detail"] = "%s: %s" % (type(exc).__name__, exc.strerror or exc)
    # ld.so maps only the segments: a file whose section headers were cut off still loads.
    info["loadable"] = info["problem"] is None or info.get("detail", "").startswith("section headers")
    info.setdefault("soname", None)
    info.setdefault("needed", [])
    info.setdefault("rpath", None)
    info.setdefault("runpath", None)
    return info


# -- the GPU code inside a CUDA extension ------------------------------------------------------

FATBIN_MAGIC = 0xBA55ED50
_FATBIN_KIND = {1: "ptx", 2: "sm"}
_MAX_FATBIN_ENTRIES = 100000


def _section(f, size, name):
    """(offset, size) of section ``name`` (little-endian 64/32-bit ELF), or None."""
    ident = _read_at(f, 0, 16)
    if ident[:4] != b"\x7fELF" or ident[5] != 1:
        return None
    is64 = ident[4] == 2
    fmt = "<HHIQQQIHHHHHH" if is64 else "<HHIIIIIHHHHHH"
    hdr = struct.unpack(fmt, _read_at(f, 16, struct.calcsize(fmt)))
    e_shoff, e_shentsize, e_shnum, e_shstrndx = hdr[5], hdr[10], hdr[11], hdr[12]
    if not e_shoff or not e_shnum or e_shstrndx >= e_shnum or e_shoff + e_shnum * e_shentsize > size:
        return None
    table = _read_at(f, e_shoff, e_shnum * e_shentsize)
    shdr = "<IIQQQQIIQQ" if is64 else "<IIIIIIIIII"

    def entry(i):
        fields = struct.unpack_from(shdr, table, i * e_shentsize)
        return fields[0], fields[4], fields[5]  # sh_name, sh_offset, sh_size

    _n, str_off, str_size = entry(e_shstrndx)
    names = _read_at(f, str_off, min(str_size, 1 << 20))
    want = name.encode()
    for i in range(e_shnum):
        name_at, offset, length = entry(i)
        if names[name_at : name_at + len(want) + 1] == want + b"\0":
            return (offset, length) if offset + length <= size else None
    return None


def cuda_arches(path):
    """The GPU architectures compiled into ``path``: ``{"sm": [75, 80, ...], "ptx": [120]}``.

    Read from the ``.nv_fatbin`` section, header by header (the payloads are skipped):
    ``sm`` are cubins (a kernel for that compute capability), ``ptx`` is code the driver can
    compile for that one or newer.  None for a file with no GPU code (a CPU build) or one
    that cannot be read; like ``cuobjdump --list-elf``, without a CUDA toolkit.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            where = _section(f, size, ".nv_fatbin")
            if where is None:
                return None
            start, length = where
            end = start + length
            found = {"sm": set(), "ptx": set()}
            pos, entries = start, 0
            while pos + 16 <= end and entries < _MAX_FATBIN_ENTRIES:
                magic, _version, header, fat_size = struct.unpack("<IHHQ", _read_at(f, pos, 16))
                if magic != FATBIN_MAGIC:
                    # the next fatbin starts at the next 8-byte boundary, past any padding
                    pad = _read_at(f, pos, min(256, end - pos))
                    at = pad.find(struct.pack("<I", FATBIN_MAGIC), 1)
                    if at < 0:
                        break
                    pos += at
                    continue
                item, stop = pos + header, min(end, pos + header + fat_size)
                while item + 32 <= stop and entries < _MAX_FATBIN_ENTRIES:
                    raw = _read_at(f, item, 32)
                    kind, _v, item_header, payload = struct.unpack_from("<HHIQ", raw)
                    arch = struct.unpack_from("<I", raw, 28)[0]
                    if kind in _FATBIN_KIND and 10 <= arch < 1000:
                        found[_FATBIN_KIND[kind]].add(arch)
                    entries += 1
                    if item_header < 32:
                        break
                    item += item_header + payload
                pos = stop
            return {k: sorted(v) for k, v in found.items()}
    except (OSError, struct.error, IndexError):
        return None
