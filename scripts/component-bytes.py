#!/usr/bin/env python3
"""Where the bytes of a component go (docs/benchmarks.md, "Component size").

Usage: scripts/component-bytes.py COMPONENT.wasm [TOP]

Takes the largest core module out of a wasm component, prints its sections' sizes, and
sums the code section's function bodies by the crate of each function's (mangled, legacy
or v0) name from the `name` section; with TOP, also the TOP largest functions. Needs the
names: build the component with CARGO_PROFILE_RELEASE_STRIP=false (in another
CARGO_TARGET_DIR, so the release build stays as it is), e.g.

  CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=/tmp/named \
    cargo build --target wasm32-wasip2 --release -p scim-user
  scripts/component-bytes.py /tmp/named/wasm32-wasip2/release/scim_user.wasm 40

Generic code counts where it is defined (core's sort for a Roster type counts as core).
Standard library only; no dependencies.
"""
import sys, re, collections, subprocess

def leb(b, i):
    r = s = 0
    while True:
        x = b[i]; i += 1
        r |= (x & 0x7f) << s; s += 7
        if x < 0x80: return r, i

def sections(b, i=8):
    while i < len(b):
        sid = b[i]; n, j = leb(b, i + 1)
        yield sid, b[j:j + n], j - i + n
        i = j + n

def core_modules(comp):
    return [p for sid, p, _ in sections(comp) if sid == 1]

def analyze(mod):
    secs = collections.Counter(); names = {}; bodies = []; nimports = 0; data = 0; customs = collections.Counter()
    for sid, p, total in sections(mod):
        if sid == 0:
            nl, k = leb(p, 0); name = p[k:k + nl].decode()
            customs[name] += total
            if name == 'name':
                q = p[k + nl:]; i = 0
                while i < len(q):
                    sub = q[i]; sz, i = leb(q, i + 1); body = q[i:i + sz]; i += sz
                    if sub == 1:
                        cnt, t = leb(body, 0)
                        for _ in range(cnt):
                            idx, t = leb(body, t); l, t = leb(body, t); names[idx] = body[t:t + l].decode('utf8', 'replace'); t += l
            secs['custom:' + name] += total
            continue
        secs[sid] += total
        if sid == 2:
            cnt, t = leb(p, 0)
            for _ in range(cnt):
                l, t = leb(p, t); t += l; l, t = leb(p, t); t += l
                kind = p[t]; t += 1
                if kind == 0: nimports += 1; _, t = leb(p, t)
                elif kind == 1: t += 1; fl, t = leb(p, t); _, t = leb(p, t); t = leb(p, t)[1] if fl & 1 else t
                elif kind == 2: fl, t = leb(p, t); _, t = leb(p, t); t = leb(p, t)[1] if fl & 1 else t
                elif kind == 3: t += 2
        if sid == 10:
            cnt, t = leb(p, 0)
            for k in range(cnt):
                sz, t2 = leb(p, t); bodies.append(t2 - t + sz); t = t2 + sz
    return secs, names, bodies, nimports

def crate_of(name):
    if name.startswith('_R'):
        m = re.search(r'C(?:s[0-9A-Za-z]*_)?(\d+)', name)
        if m:
            l = int(m.group(1)); st = m.end(); return name[st:st+l]
        return '?v0'
    if name.startswith('_ZN'):
        rest = name[3:]
        m = re.match(r'(\d+)', rest); l = int(m.group(1)); comp = rest[m.end():m.end()+l]
        if comp.startswith('_$LT$'):
            inner = comp[5:]
            inner = re.sub(r'^(\$RF\$|mut\$u20\$|dyn\$u20\$|\$u5b\$)+', '', inner)
            m2 = re.match(r'([A-Za-z_][A-Za-z0-9_]*)', inner)
            c = m2.group(1) if m2 else '?'
            tm = re.search(r'\$u20\$as\$u20\$([A-Za-z_][A-Za-z0-9_]*)', comp)
            if c in ('core','alloc','std') and tm and tm.group(1) not in ('core','alloc','std'):
                return tm.group(1)
            return c
        return comp
    return 'wit-bindgen/other' if ('#' in name or ':' in name) else name
if __name__ == '__main__':
    comp = open(sys.argv[1], 'rb').read()
    mods = core_modules(comp)
    print('component', len(comp), 'core modules', [len(m) for m in mods])
    mod = max(mods, key=len)
    secs, names, bodies, nimp = analyze(mod)
    ids = {0:'custom',1:'type',2:'import',3:'function',4:'table',5:'memory',6:'global',7:'export',8:'start',9:'element',10:'code',11:'data',12:'datacount'}
    for k, v in sorted(secs.items(), key=lambda kv: -kv[1]):
        print(f'  section {ids.get(k, k)!s:28} {v:9}')
    raw = [(names.get(nimp + i, f'func{nimp+i}'), sz) for i, sz in enumerate(bodies)]
    per = collections.Counter(); cnt = collections.Counter()
    for n, sz in raw:
        c = crate_of(n); per[c] += sz; cnt[c] += 1
    print('code bytes per crate:')
    for c, v in per.most_common(40): print(f'  {c:40} {v:9} {cnt[c]:6} fns')
    if len(sys.argv) > 2:
        for n, sz in sorted(raw, key=lambda x: -x[1])[:int(sys.argv[2])]: print(f'  {sz:8} {n[:160]}')
