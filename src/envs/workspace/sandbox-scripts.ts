// Python run inside the sandbox, as the sandbox's user: file operations there cannot follow a planted link out of the workspace.

/** Bytes of a file read_file returns. */
export const READ_LIMIT = 1024 * 1024;

// Python run inside the sandbox. ARGS and TOKEN come from the namespace; answers go to stdout between tokens.
export const PRELUDE = `import os, sys, json
root = ARGS["root"] if os.path.isdir(ARGS["root"]) else os.environ.get("HOME", ".")
root = os.path.realpath(root)
def resolve(p):
    full = os.path.realpath(os.path.join(root, p))
    if full != root and not full.startswith(root + os.sep):
        raise PermissionError(f"{p!r} is outside the workspace")
    return full
def reply(obj):
    sys.stdout.write(TOKEN + json.dumps(obj) + TOKEN)
    sys.stdout.flush()
try:
`;
export const POSTLUDE = `
except Exception as e:
    reply({"error": type(e).__name__, "message": str(e)})
`;
export const FILE_OPS = {
  read: `    full = resolve(ARGS["path"])
    size = os.path.getsize(full)
    with open(full, "rb") as f:
        data = f.read(ARGS["limit"] + 1)
    reply({"path": ARGS["path"], "content": data[:ARGS["limit"]].decode("utf-8", "replace"), "size": size, "truncated": len(data) > ARGS["limit"]})`,
  write: `    full = resolve(ARGS["path"])
    if os.path.isdir(full):
        raise IsADirectoryError(f"{ARGS['path']!r} is a directory")
    os.makedirs(os.path.dirname(full), exist_ok=True)
    data = ARGS["content"].encode("utf-8", "surrogatepass")
    with open(full, "wb") as f:
        f.write(data)
    reply({"path": ARGS["path"], "bytes_written": len(data)})`,
  list: `    full = resolve(ARGS["path"])
    entries = []
    for e in sorted(os.scandir(full), key=lambda e: e.name):
        kind = "link" if e.is_symlink() else "dir" if e.is_dir() else "file" if e.is_file() else "other"
        entries.append({"name": e.name, "type": kind, "size": e.stat(follow_symlinks=False).st_size if kind == "file" else 0})
    reply({"path": ARGS["path"], "entries": entries})`,
} as const;
export const GRADE_SETUP = `import os, sys
os.chdir(ROOT if os.path.isdir(ROOT) else os.environ.get("HOME", "."))
sys.path.insert(0, os.getcwd())
for m in MODULES:
    sys.modules.pop(m, None)
`;
