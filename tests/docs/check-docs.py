#!/usr/bin/env python3
# coversnap
# Copyright (C) 2026 coversnap authors
#
# This library is free software; you can redistribute it and/or
# modify it under the terms of the GNU Library General Public
# License as published by the Free Software Foundation; either
# version 2 of the License, or (at your option) any later version.
"""Keeps gst-docs honest against the code.

Fails when
  * the committed gst-docs/plugins/gst_plugins_cache.json differs from what
    the dumper (coversnap-doc-cache) writes now from the built plugin;
  * a property of an element in that cache has an empty blurb, or has no
    section in gst-docs/elements/<element>.md (a heading naming it) giving
    its type, default, range and mutability as the cache says;
  * the element page misses a field of a bus message the element posts, or
    the example launch line of the element's doc block;
  * gst-docs/cover-store.md misses a field of a struct of the store layout
    (parsed from plugin/coverstore.c at test time, with offsets and sizes
    computed from the C types and cross-checked with the file's own static
    assertions), a field of CoverInfo, a function of the store API or one of
    its constants;
  * an environment variable the plugin reads, or an option of coversnap-cat,
    is documented nowhere;
  * gst-docs/index.md does not link a page or lacks the regenerate command.

Usage: check-docs.py --dumper PATH --plugin-dir DIR --source-root DIR
The dumper runs with this process's environment (meson sets
GST_PLUGIN_PATH_1_0 and a registry of the test's own).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

REGENERATE = "meson compile -C <builddir> update-doc-cache"


class Checker:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def fail(self, msg):
        self.failures.append(msg)

    def ok(self):
        self.passed += 1

    def check(self, cond, msg):
        if cond:
            self.ok()
        else:
            self.fail(msg)
        return cond


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def strip_c_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def ws(text):
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------------------
# markdown helpers

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def md_lines(text):
    """Lines outside fenced code blocks, as (index, line)."""
    out, fenced = [], False
    for i, line in enumerate(text.splitlines()):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out.append((i, line))
    return out


def sections(text):
    """(level, title, body) for every heading, body up to the next heading
    of the same or a higher level."""
    lines = text.splitlines()
    heads = []
    for i, line in md_lines(text):
        m = HEADING.match(line)
        if m:
            heads.append((i, len(m.group(1)), m.group(2)))
    result = []
    for n, (i, level, title) in enumerate(heads):
        end = len(lines)
        for j, lvl, _ in heads[n + 1:]:
            if lvl <= level:
                end = j
                break
        result.append((level, title, "\n".join(lines[i + 1:end])))
    return result


def heading_name(title):
    return title.replace("`", "").strip()


def table_rows(body):
    rows = []
    for line in body.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", c) for c in cells if c):
            continue
        rows.append(cells)
    return rows


def has_code(text, token):
    return ("`%s`" % token) in text


# ---------------------------------------------------------------------------
# (a) the committed cache is what the dumper writes now


def json_diff(a, b, path="", out=None):
    out = [] if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            p = "%s/%s" % (path, k)
            if k not in a:
                out.append("%s: only in the built plugin" % p)
            elif k not in b:
                out.append("%s: only in the committed cache" % p)
            else:
                json_diff(a[k], b[k], p, out)
    elif a != b:
        out.append("%s: committed %r, built %r" % (path or "/", a, b))
    return out


def check_cache(c, args, cache_path):
    with tempfile.TemporaryDirectory(prefix="coversnap-docs-") as tmp:
        fresh_path = os.path.join(tmp, "cache.json")
        cmd = [args.dumper, "--expect-dir", args.plugin_dir,
               "--output", fresh_path]
        res = subprocess.run(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=90)
        if res.returncode != 0:
            c.fail("the dumper failed (%d): %s" %
                   (res.returncode, res.stderr.strip()))
            return None
        fresh_text = read(fresh_path)
    fresh = json.loads(fresh_text)
    c.ok()

    if not os.path.exists(cache_path):
        c.fail("%s is missing; generate it with: %s" % (cache_path, REGENERATE))
        return fresh
    committed_text = read(cache_path)
    try:
        committed = json.loads(committed_text)
    except ValueError as e:
        c.fail("%s is not valid JSON (%s); regenerate it with: %s" %
               (cache_path, e, REGENERATE))
        return fresh
    diffs = json_diff(committed, fresh)
    if diffs:
        c.fail("%s is stale, it differs from the built plugin in %d place(s):"
               "\n      %s\n    regenerate it with: %s" %
               (cache_path, len(diffs), "\n      ".join(diffs[:20]),
                REGENERATE))
    elif committed_text != fresh_text:
        c.fail("%s has the right content but not the dumper's layout; "
               "regenerate it with: %s" % (cache_path, REGENERATE))
    else:
        c.ok()
        print("cache: %s matches the built plugin" % cache_path)
    return fresh


# ---------------------------------------------------------------------------
# (b), (c) every property documented, no empty blurb


def check_properties(c, element, props, page_path, page):
    print("%s: %d properties: %s" % (element, len(props),
                                     ", ".join(sorted(props))))
    secs = {}
    for level, title, body in sections(page):
        secs.setdefault(heading_name(title), body)
    for name, p in sorted(props.items()):
        where = "%s:%s" % (element, name)
        c.check((p.get("blurb") or "").strip() != "",
                "%s has an empty blurb (elements/… g_param_spec_*)" % where)
        body = secs.get(name)
        if body is None:
            c.fail("%s: property %s is not documented: %s needs a heading "
                   "`%s` with its type, default, range and mutability" %
                   (page_path, name, page_path, name))
            continue
        c.ok()
        wanted = [("type", p["type"])]
        for key in ("default", "min", "max"):
            if key in p:
                wanted.append((key, p[key]))
        for key, value in wanted:
            c.check(has_code(body, value),
                    "%s: the section of %s does not give its %s `%s` "
                    "(as in the cache)" % (page_path, name, key, value))
        if p.get("writable"):
            c.check(has_code(body, p["mutable"]),
                    "%s: the section of %s does not say in which state it "
                    "may change (`%s`)" % (page_path, name, p["mutable"]))
        else:
            c.check("read-only" in body.lower(),
                    "%s: the section of %s does not say it is read-only" %
                    (page_path, name))


def check_pads(c, element, templates, page_path, page):
    """Every pad template named, with the media types and the listed values
    (stream formats, ...) of its caps."""
    for name, t in sorted(templates.items()):
        c.check(has_code(page, name), "%s does not name pad template `%s`" %
                (page_path, name))
        for line in t.get("caps", "").splitlines():
            if line.endswith(":") and not line.startswith(" "):
                media = line[:-1].split("(")[0]
                c.check(media in page, "%s: pad `%s` accepts %s; the page "
                        "does not say so" % (page_path, name, media))
            elif ":" in line:
                field, value = [x.strip() for x in line.split(":", 1)]
                for v in re.findall(r"\(string\)([\w.-]+)", value) or [value]:
                    c.check(v in page, "%s: pad `%s` caps field %s = %s is "
                            "not in the page" % (page_path, name, field, v))


def element_source(root, element):
    pattern = re.compile(r'GST_ELEMENT_REGISTER_DEFINE\s*\(\s*\w+\s*,\s*"%s"'
                         % re.escape(element))
    for sub in ("elements", "plugin"):
        d = os.path.join(root, sub)
        for f in sorted(os.listdir(d)):
            if f.endswith(".c") and pattern.search(read(os.path.join(d, f))):
                return os.path.join(d, f)
    return None


def check_element_source(c, root, element, page_path, page):
    src_path = element_source(root, element)
    if not c.check(src_path is not None,
                   "no source registers element %s" % element):
        return
    src = read(src_path)
    code = strip_c_comments(src)

    # bus messages: gst_structure_new ("name", "field", G_TYPE_X, v, ..., NULL)
    n_messages = 0
    for m in re.finditer(r'gst_structure_new\s*\(\s*"([^"]+)"(.*?)NULL\s*\)',
                         code, re.S):
        n_messages += 1
        msg, rest = m.group(1), m.group(2)
        print("%s: bus message %s: %s" % (element, msg, ", ".join(
            re.findall(r'"([^"]+)"\s*,\s*G_TYPE_\w+', rest))))
        c.check(has_code(page, msg),
                "%s does not document the bus message `%s`" % (page_path, msg))
        for field in re.findall(r'"([^"]+)"\s*,\s*G_TYPE_\w+', rest):
            c.check(has_code(page, field),
                    "%s does not document field `%s` of the `%s` message" %
                    (page_path, field, msg))

    # the doc block's example launch line(s)
    block = re.search(r"/\*\*\s*\n\s*\*\s*SECTION:element-%s\b(.*?)\*/"
                      % re.escape(element), src, re.S)
    if not c.check(block is not None,
                   "%s has no SECTION:element-%s doc block" %
                   (src_path, element)):
        return
    text = re.sub(r"^\s*\* ?", "", block.group(1), flags=re.M)
    examples = re.findall(r"\|\[(.*?)\]\|", text, re.S)
    c.check(examples, "the doc block of %s has no |[ ... ]| example" % element)
    flat_page = ws(page.replace("\\\n", " "))
    for ex in examples:
        c.check(ws(ex) in flat_page,
                "%s does not carry the doc block's example launch line:\n"
                "      %s" % (page_path, ws(ex)))


# ---------------------------------------------------------------------------
# the cover store layout

TYPE_SIZES = {
    "gchar": 1, "guchar": 1, "gint8": 1, "guint8": 1, "char": 1,
    "gint16": 2, "guint16": 2,
    "gint32": 4, "guint32": 4, "gint": 4, "guint": 4, "gboolean": 4,
    "int": 4, "float": 4, "gfloat": 4,
    "gint64": 8, "guint64": 8, "gsize": 8, "gssize": 8, "gdouble": 8,
    "double": 8, "goffset": 8,
}


def parse_structs(code):
    """typedef struct { ... } Name; → {Name: [(type, name, count, ptr)]}"""
    structs = {}
    for m in re.finditer(r"typedef\s+struct\s*\w*\s*\{(.*?)\}\s*(\w+)\s*;",
                         code, re.S):
        fields = []
        for decl in m.group(1).split(";"):
            decl = ws(decl)
            if not decl:
                continue
            dm = re.match(r"((?:const\s+)?\w+)\s+(.*)$", decl)
            if not dm:
                raise ValueError("cannot parse field %r of %s" %
                                 (decl, m.group(2)))
            ctype = dm.group(1).replace("const ", "")
            for d in dm.group(2).split(","):
                d = d.strip()
                fm = re.fullmatch(r"(\**)\s*(\w+)\s*(?:\[\s*(\w+)\s*\])?", d)
                if not fm:
                    raise ValueError("cannot parse declarator %r in %s" %
                                     (d, m.group(2)))
                count = fm.group(3)
                fields.append((ctype, fm.group(2),
                               int(count, 0) if count else None,
                               bool(fm.group(1))))
        structs[m.group(2)] = fields
    return structs


def layout(structs, name, memo=None):
    """[(field, offset, size, ctype)], size, alignment, C (x86-64) rules."""
    memo = {} if memo is None else memo
    if name in memo:
        return memo[name]
    off, align, out = 0, 1, []
    for ctype, field, count, ptr in structs[name]:
        if ptr:
            size = a = 8
        elif ctype in TYPE_SIZES:
            size = a = TYPE_SIZES[ctype]
        elif ctype in structs:
            _, size, a = layout(structs, ctype, memo)
        else:
            raise ValueError("unknown type %s of %s.%s: add it to TYPE_SIZES"
                             % (ctype, name, field))
        total = size * (count or 1)
        off = (off + a - 1) // a * a
        out.append((field, off, total, ctype + ("[%d]" % count if count
                                                 else "")))
        off += total
        align = max(align, a)
    size = (off + align - 1) // align * align
    memo[name] = (out, size, align)
    return memo[name]


def check_store(c, root, page_path, page):
    src_path = os.path.join(root, "plugin", "coverstore.c")
    hdr_path = os.path.join(root, "plugin", "coverstore.h")
    code = strip_c_comments(read(src_path))
    hcode = strip_c_comments(read(hdr_path))
    structs = parse_structs(code)
    c.check(len(structs) >= 2, "found no layout structs in %s" % src_path)
    layouts = {n: layout(structs, n) for n in structs}
    for n, (fields, size, _) in sorted(layouts.items()):
        print("store: %s, %d bytes: %s" % (n, size, ", ".join(
            "%s@%d+%d" % (f, o, sz) for f, o, sz, _ in fields)))

    # the parser must agree with the compiler's own checks in the file
    for m in re.finditer(r"G_STATIC_ASSERT\s*\(\s*sizeof\s*\(\s*(\w+)\s*\)"
                         r"\s*==\s*(\w+)\s*\)", code):
        if m.group(1) in layouts:
            c.check(layouts[m.group(1)][1] == int(m.group(2), 0),
                    "computed sizeof (%s) = %d, %s asserts %s" %
                    (m.group(1), layouts[m.group(1)][1], src_path, m.group(2)))
    for m in re.finditer(r"G_STATIC_ASSERT\s*\(\s*offsetof\s*\(\s*(\w+)\s*,"
                         r"\s*(\w+)\s*\)\s*==\s*(\w+)\s*\)", code):
        offs = {f: o for f, o, _, _ in layouts.get(m.group(1), ([],))[0]}
        c.check(offs.get(m.group(2)) == int(m.group(3), 0),
                "computed offsetof (%s, %s) = %s, %s asserts %s" %
                (m.group(1), m.group(2), offs.get(m.group(2)), src_path,
                 m.group(3)))

    # every field, in a table under a heading naming the struct:
    # | offset | size | `field` | type | meaning |
    secs = sections(page)
    for sname, (fields, size, _) in sorted(layouts.items()):
        body = next((t + "\n" + b for _, t, b in secs if has_code(t, sname)),
                    None)
        if not c.check(body is not None,
                       "%s has no heading naming `%s` (the struct of %s)" %
                       (page_path, sname, src_path)):
            continue
        rows = table_rows(body)
        for field, off, fsize, ctype in fields:
            row = next((r for r in rows if len(r) >= 4 and
                        r[2] == "`%s`" % field), None)
            if not c.check(row is not None,
                           "%s: field `%s` of %s is not in its layout table" %
                           (page_path, field, sname)):
                continue
            c.check(row[0] == str(off) and row[1] == str(fsize),
                    "%s: %s.%s is documented at offset %s, size %s; the code "
                    "has offset %d, size %d" %
                    (page_path, sname, field, row[0], row[1], off, fsize))
            base = ctype.split("[")[0]
            c.check(base in row[3],
                    "%s: %s.%s is documented as %s; the code has %s" %
                    (page_path, sname, field, row[3], ctype))
        c.check(re.search(r"\b%d\b" % size, body) is not None,
                "%s: the section of `%s` does not give its size (%d bytes)" %
                (page_path, sname, size))

    # the reader API: CoverInfo's fields, every public function, constants
    hstructs = parse_structs(hcode)
    for ctype, field, _, _ in hstructs.get("CoverInfo", []):
        c.check(has_code(page, field) or has_code(page, "info." + field),
                "%s does not document CoverInfo field `%s`" %
                (page_path, field))
    for fn in sorted(set(re.findall(r"\b(cover_store_\w+)\s*\(", hcode))):
        if fn.endswith("_quark"):
            continue
        c.check(fn in page, "%s does not document %s() from %s" %
                (page_path, fn, hdr_path))
    for m in re.finditer(r"#define\s+(COVER_STORE_\w+)\s+(\S+)", hcode):
        name, value = m.group(1), m.group(2).strip('"')
        if name == "COVER_STORE_ERROR":
            continue
        if value.endswith("u") and value.startswith("0x"):
            value = value[:-1]
        c.check(name in page and value in page,
                "%s does not give %s (%s)" % (page_path, name, value))
    for code_name in re.findall(r"\b(COVER_STORE_ERROR_\w+)\b", hcode):
        c.check(code_name in page, "%s does not document error %s" %
                (page_path, code_name))


# ---------------------------------------------------------------------------
# environment variables, CLI options, the index


def check_misc(c, root, docs_dir, pages):
    all_docs = "\n".join(pages.values())
    for sub in ("plugin", "elements", "tools", "server-glue"):
        for dirpath, _, files in sorted(os.walk(os.path.join(root, sub))):
            for f in sorted(files):
                if not f.endswith(".c"):
                    continue
                for var in re.findall(r'g_getenv\s*\(\s*"(\w+)"',
                                      read(os.path.join(dirpath, f))):
                    c.check(has_code(all_docs, var),
                            "environment variable %s (%s) is documented "
                            "nowhere in gst-docs" %
                            (var, os.path.relpath(os.path.join(dirpath, f),
                                                  root)))

    cat_src = os.path.join(root, "tools", "coversnap-cat.c")
    cat_page = pages.get("coversnap-cat.md", "")
    c.check(cat_page, "gst-docs/coversnap-cat.md is missing")
    for long_name, short in re.findall(r'\{\s*"([\w-]+)"\s*,\s*\'(\w)\'',
                                       strip_c_comments(read(cat_src))):
        c.check("--" + long_name in cat_page and "-" + short in cat_page,
                "gst-docs/coversnap-cat.md does not document --%s (-%s)" %
                (long_name, short))

    index = pages.get("index.md", "")
    c.check(index, "gst-docs/index.md is missing")
    for rel in sorted(pages):
        if rel != "index.md":
            c.check("(%s)" % rel in index or "(./%s)" % rel in index,
                    "gst-docs/index.md does not link %s" % rel)
    c.check("update-doc-cache" in index,
            "gst-docs/index.md does not give the command that regenerates "
            "the cache (%s)" % REGENERATE)


def read_tree(root, sub):
    """The text of every .c file below root/sub, concatenated."""
    texts = []
    for dirpath, _, files in sorted(os.walk(os.path.join(root, sub))):
        for f in sorted(files):
            if f.endswith(".c"):
                texts.append(read(os.path.join(dirpath, f)))
    return "\n".join(texts)


def table_keys(root, sub):
    """The key names of the config tables (rows "name", KIND, ...) of the .c
    files below root/sub; the kinds are those of cover-config-keys.h."""
    header = read(os.path.join(root, "server-glue/config/cover-config-keys.h"))
    kinds = re.findall(r"COVER_CONFIG_KIND_([A-Z]+)", strip_c_comments(header))
    code = strip_c_comments(read_tree(root, sub))
    return re.findall(r'"([a-z][a-z-]*)",\s*(?:COVER_CONFIG_KIND_)?(?:%s),'
                      % "|".join(kinds), code) if kinds else []


def check_config(c, root, pages):
    """Every key of the config tables has a row: [server] and [app.NAME] in
    configuration.md, [ingest] and [stream.*] in coversnapd.md; every status
    the HTTP API answers is in http-api.md."""
    page = pages.get("configuration.md")
    if not c.check(page is not None, "gst-docs/configuration.md is missing"):
        return
    keys = table_keys(root, "server-glue/config")
    c.check(len(keys) >= 10, "found only %d [server] keys in server-glue/config"
            % len(keys))
    for key in keys + ["key", "cids"]:
        c.check("| `%s` |" % key in page,
                "configuration.md has no table row for key %s" % key)
    daemon = pages.get("coversnapd.md")
    if c.check(daemon is not None, "gst-docs/coversnapd.md is missing"):
        rows = [l for l in daemon.splitlines() if l.startswith("| `")]
        ingest_keys = table_keys(root, "server-glue/ingest")
        c.check(len(ingest_keys) >= 10, "found only %d [ingest] and "
                "[stream.*] keys in server-glue/ingest" % len(ingest_keys))
        for key in ingest_keys:
            c.check(any("`%s`" % key in l.split("|")[1] for l in rows),
                    "coversnapd.md has no table row for key %s" % key)
    api = pages.get("http-api.md")
    if not c.check(api is not None, "gst-docs/http-api.md is missing"):
        return
    service = strip_c_comments(read_tree(root, "server-glue/http"))
    for status in sorted(set(re.findall(r"SOUP_STATUS_([A-Z_]+)", service))):
        codes = {"OK": 200, "FOUND": 302, "NOT_MODIFIED": 304, "BAD_REQUEST": 400,
                 "UNAUTHORIZED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404,
                 "METHOD_NOT_ALLOWED": 405, "NOT_ACCEPTABLE": 406,
                 "REQUEST_ENTITY_TOO_LARGE": 413,
                 "INTERNAL_SERVER_ERROR": 500, "SERVICE_UNAVAILABLE": 503}
        if c.check(status in codes, "unknown status %s in the service" %
                   status):
            c.check("| %d" % codes[status] in api,
                    "http-api.md has no row for status %d" % codes[status])
    for code_name in sorted(set(re.findall(
            r'respond_error \([^,]+,\s*SOUP_STATUS_[A-Z_]+,\s*"([a-z_]+)"',
            service))):
        c.check("`%s`" % code_name in api,
                "http-api.md does not mention error code %s" % code_name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dumper", required=True)
    ap.add_argument("--plugin-dir", required=True)
    ap.add_argument("--source-root", required=True)
    args = ap.parse_args()

    root = args.source_root
    docs_dir = os.path.join(root, "gst-docs")
    cache_path = os.path.join(docs_dir, "plugins", "gst_plugins_cache.json")
    pages = {}
    for dirpath, _, files in os.walk(docs_dir):
        for f in files:
            if f.endswith(".md"):
                p = os.path.join(dirpath, f)
                pages[os.path.relpath(p, docs_dir)] = read(p)

    c = Checker()
    cache = check_cache(c, args, cache_path)
    if cache:
        n_elements = 0
        for plugin in cache.values():
            for element, info in sorted(plugin.get("elements", {}).items()):
                n_elements += 1
                rel = os.path.join("elements", element + ".md")
                page_path = "gst-docs/" + rel
                if not c.check(rel in pages, "%s is missing" % page_path):
                    continue
                check_properties(c, element, info.get("properties", {}),
                                 page_path, pages[rel])
                check_pads(c, element, info.get("pad-templates", {}),
                           page_path, pages[rel])
                check_element_source(c, root, element, page_path, pages[rel])
        c.check(n_elements > 0, "the cache describes no element")

    store_page = pages.get("cover-store.md")
    if c.check(store_page is not None, "gst-docs/cover-store.md is missing"):
        check_store(c, root, "gst-docs/cover-store.md", store_page)
    check_misc(c, root, docs_dir, pages)
    check_config(c, root, pages)

    for f in c.failures:
        print("FAIL: " + f)
    print("%d checks passed, %d failed" % (c.passed, len(c.failures)))
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
