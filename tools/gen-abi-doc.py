#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Generate the reference parts of docs/abi.md from uapi/hmm_p2p_test.h,
and of docs/drm-abi.md from uapi/hmm_p2p_drm.h (the DRM front end's driver
ioctls, DRM_IOWR(DRM_COMMAND_BASE + n, ...): type 'd', nr 0x40 + n).

usage: tools/gen-abi-doc.py [--check] [HEADER [DOC]]
  (no HEADER: both pairs above)

The doc's generated sections stand between "<!-- BEGIN GENERATED: NAME -->"
and "<!-- END GENERATED: NAME -->" lines (NAME: ioctls, structs, enums);
everything else in it is prose and is kept. Without --check the sections
are rewritten in place; with --check nothing is written and the exit status
is 1 (with a diff) when the doc and the header disagree: an ioctl, a struct
field or an enum value added, removed or changed on one side only.
"""
import difflib
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def strip_comments(text):
    return re.sub(r'/\*.*?\*/', lambda m: ' ' * 0, text, flags=re.S)


def parse(path):
    text = open(path).read()
    code = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    ioctls = []
    for m in re.finditer(r'^#define\s+(\w+)\s+_IO(WR|R|W)?\(\s*\'(.)\'\s*,\s*(0x[0-9a-fA-F]+|\d+)\s*'
                         r'(?:,\s*(struct\s+\w+|[\w ]+?)\s*)?\)', code, re.M):
        name, d, typ, nr, arg = m.groups()
        ioctls.append((int(nr, 0), name, {'WR': 'read/write', 'R': 'read', 'W': 'write'}.get(d, 'none'),
                       typ, arg or '-'))
    # DRM driver ioctls: DRM_IO*(DRM_COMMAND_BASE + NAME, struct ...), NAME a #define
    nums = dict((k, int(v, 0)) for k, v in re.findall(
        r'^#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)\s*$', code, re.M))
    for m in re.finditer(r'^#define\s+(\w+)\s*\\?\s*DRM_IO(WR|R|W)?\(\s*DRM_COMMAND_BASE\s*\+\s*'
                         r'(\w+)\s*(?:,\s*(struct\s+\w+)\s*)?\)', code, re.M):
        name, d, nrname, arg = m.groups()
        if nrname not in nums:
            sys.exit('gen-abi-doc: %s: unknown command number %s' % (name, nrname))
        ioctls.append((0x40 + nums[nrname], name, {'WR': 'read/write', 'R': 'read', 'W': 'write'}.get(d, 'none'),
                       'd', arg or '-'))
    ioctls.sort()
    errnos = {}
    table = re.search(r'(\w*errno_table)\[\]\s*=\s*\{(.*?)\n\};', code, re.S)
    tname = table.group(1) if table else 'hmm_p2p_errno_table'
    if table:
        for m in re.finditer(r'\{\s*(\w+)\s*,\s*\{([^}]*)\}\s*\}', table.group(2)):
            errnos[m.group(1)] = [e.strip() for e in m.group(2).split(',') if e.strip()]
    structs = []
    # fields with their trailing comments, from the text with comments
    for m in re.finditer(r'^struct\s+(\w+)\s*\{\n(.*?)^\};', text, re.M | re.S):
        name, body = m.groups()
        if name == 'hmm_p2p_errnos':
            continue
        fields = []
        for line in body.split('\n'):
            fm = re.match(r'\s*([\w ]+?)\s+(\w+)(\[[^\]]*\])?\s*;\s*(?:/\*\s*(.*?)\s*\*/)?', line)
            if fm:
                typ, fname, arr, comment = fm.groups()
                fields.append((typ + (arr or ''), fname, comment or ''))
        structs.append((name, fields))
    enums = []
    for m in re.finditer(r'^enum\s*(\w*)\s*\{(.*?)\};', code, re.M | re.S):
        name, body = m.groups()
        vals = []
        for item in body.split(','):
            item = ' '.join(item.split())
            if not item:
                continue
            k, _, v = item.partition('=')
            vals.append((k.strip(), v.strip()))
        enums.append((name or '(anonymous: %s...)' % vals[0][0], vals))
    return ioctls, errnos, structs, enums, tname


def sections(header):
    ioctls, errnos, structs, enums, tname = parse(header)
    out = {}
    lines = ['| nr | ioctl | direction | argument | errnos (%s) |' % tname,
             '|---|---|---|---|---|']
    for nr, name, d, typ, arg in ioctls:
        e = ', '.join(errnos.get(name, [])) or '(not in the table)'
        lines.append('| `%s` 0x%02x | `%s` | %s | `%s` | %s |' % (typ, nr, name, d, arg, e))
    out['ioctls'] = lines
    lines = []
    for name, fields in structs:
        lines += ['', '`struct %s`:' % name, '', '| field | type | note |', '|---|---|---|']
        for typ, fname, comment in fields:
            lines.append('| `%s` | `%s` | %s |' % (fname, typ, comment.replace('|', '\\|')))
    out['structs'] = lines[1:]
    lines = []
    for name, vals in enums:
        lines += ['', '`enum %s`: ' % name + ', '.join(
            '`%s`%s' % (k, ' = `%s`' % v if v else '') for k, v in vals)]
    if enums:
        out['enums'] = lines[1:]
    return out


def render(doc_text, secs):
    res, pos = [], 0
    seen = set()
    pat = re.compile(r'^<!-- BEGIN GENERATED: (\w+) -->\n(.*?)^<!-- END GENERATED: \1 -->\n', re.M | re.S)
    for m in pat.finditer(doc_text):
        name = m.group(1)
        if name not in secs:
            sys.exit('gen-abi-doc: unknown section %s' % name)
        seen.add(name)
        res.append(doc_text[pos:m.start()])
        res.append('<!-- BEGIN GENERATED: %s -->\n' % name)
        res.append('\n'.join(secs[name]) + '\n')
        res.append('<!-- END GENERATED: %s -->\n' % name)
        pos = m.end()
    res.append(doc_text[pos:])
    missing = set(secs) - seen
    if missing:
        sys.exit('gen-abi-doc: the doc has no section %s' % ', '.join(sorted(missing)))
    return ''.join(res)


PAIRS = [('uapi/hmm_p2p_test.h', 'docs/abi.md'), ('uapi/hmm_p2p_drm.h', 'docs/drm-abi.md')]


def main():
    args = sys.argv[1:]
    check = '--check' in args
    args = [a for a in args if a != '--check']
    if not args:
        rc = 0
        for h, d in PAIRS:
            rc |= one(check, os.path.join(TOP, h), os.path.join(TOP, d))
        return rc
    header = args[0]
    doc = args[1] if len(args) > 1 else os.path.join(TOP, 'docs/abi.md')
    return one(check, header, doc)


def one(check, header, doc):
    old = open(doc).read()
    new = render(old, sections(header))
    if check:
        if old != new:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), doc, doc + ' (from ' + header + ')'))
            print('gen-abi-doc: %s disagrees with %s: run make abi-doc' % (doc, header))
            return 1
        print('gen-abi-doc: %s matches %s' % (doc, header))
        return 0
    if old != new:
        open(doc, 'w').write(new)
        print('gen-abi-doc: %s updated' % doc)
    return 0


sys.exit(main())
