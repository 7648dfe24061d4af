#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# No guest test calls a function that can `fail` (or `skip`) where it runs
# in a subshell: in a command substitution, a process substitution or a
# pipeline, `fail` ends the subshell only, its FAIL line becomes a value,
# and the test goes on to pass (mem_latency's check_delay did that).
# Functions are those of lib.sh, transport.sh and the test itself; one
# that calls a failing function can fail too.
python3 - "$(cd "$(dirname "$0")/.." && pwd)" <<'PY'
import re, sys, glob
def funcs(text):
    out, name, body = {}, None, []
    for line in text.split('\n'):
        m = re.match(r'^\s*(\w+)\(\)\s*\{(.*)$', line)
        if name is None and m:
            if m.group(2).rstrip().endswith('}'):
                out[m.group(1)] = m.group(2)
            else:
                name, body = m.group(1), [m.group(2)]
        elif name is not None:
            if re.match(r'^\s*\}\s*$', line):
                out[name] = '\n'.join(body)
                name = None
            else:
                body.append(line)
    return out
def code(line):
    # drop comments and quoted strings, roughly
    line = re.sub(r"'[^']*'", "''", line)
    return line.split(' #')[0] if not line.lstrip().startswith('#') else ''
top = sys.argv[1]
common = {}
for f in ('lib.sh', 'transport.sh'):
    common.update(funcs(open(f'{top}/{f}').read()))
bad = 0
for f in sorted(glob.glob(f'{top}/guest/*.sh')) + [f'{top}/lib.sh', f'{top}/transport.sh']:
    text = open(f).read()
    defs = dict(common); defs.update(funcs(text))
    ends = {'fail', 'skip'}
    grew = True
    while grew:
        grew = False
        for name, body in defs.items():
            if name not in ends and any(re.search(r'(^|[^\w-])%s\b' % e, code(l)) for l in body.split('\n') for e in ends):
                ends.add(name); grew = True
    ends -= {'fail', 'skip'}
    for n, line in enumerate(text.split('\n'), 1):
        c = code(line)
        for e in ends:
            w = r'%s\b(?![-.\w])' % e
            pats = [r'\$\(\s*' + w, r'<\(\s*' + w, r'`\s*' + w, r'(?<!\|)\|(?!\|)\s*' + w,
                    r'(^|;|&&|\|\||\bthen|\bdo|\{)\s*' + w + r'[^|;&]*(?<!\|)\|(?!\|)']
            if any(re.search(p, c) for p in pats):
                print(f'{f}:{n}: {e} can fail but runs in a subshell: {line.strip()}')
                bad = 1
if not bad:
    print("# no function that can fail runs in a subshell")
sys.exit(bad)
PY
