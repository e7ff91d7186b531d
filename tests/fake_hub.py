"""A small Hugging Face Hub on 127.0.0.1, so tests drive the real huggingface_hub client end to end.

It serves, from a folder, the endpoints the client uses to create a model
repo and a branch, validate a README's metadata (parsed with ModelCard, so a
malformed model-index is refused), commit files (the ``preupload`` + ``commit`` calls, with
every file sent inline as the Hub does for small non-LFS files), describe a
revision, and download files (``HEAD``/``GET /{repo}/resolve/{revision}/{path}``
with the Hub's ``X-Repo-Commit``/``ETag`` headers).

Storage: ``root/{org}/{name}/commits/{sha}/{path}`` and
``root/{org}/{name}/refs/{branch}``; tests may edit a stored file to play a
tampered Hub. Every request is appended to ``requests`` as (method, path).
Not served: LFS / Xet transfers, auth, pull requests, tree listings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

REPO = r"(?P<repo>[\w.-]+/[\w.-]+)"
REV = r"(?P<rev>[^/]+)"


class FakeHub:
    def __init__(self, root):
        self.root = Path(root)
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_HEAD(self):
                hub._dispatch(self, "HEAD")

            def do_GET(self):
                hub._dispatch(self, "GET")

            def do_POST(self):
                hub._dispatch(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # -- storage -------------------------------------------------------------
    def repo_dir(self, repo: str) -> Path:
        return self.root / repo

    def resolve(self, repo: str, rev: str) -> str | None:
        ref = self.repo_dir(repo) / "refs" / rev
        if ref.exists():
            return ref.read_text()
        return rev if (self.repo_dir(repo) / "commits" / rev).is_dir() else None

    def file_path(self, repo: str, rev: str, path: str) -> Path | None:
        sha = self.resolve(repo, rev)
        return None if sha is None else self.repo_dir(repo) / "commits" / sha / path

    def _commit(self, repo: str, branch: str, files: dict[str, bytes], deletions: list[str]) -> str:
        with self._lock:
            parent = self.resolve(repo, branch)
            tree = {}
            if parent:
                parent_dir = self.repo_dir(repo) / "commits" / parent
                tree = {str(p.relative_to(parent_dir)): p.read_bytes() for p in parent_dir.rglob("*") if p.is_file()}
            tree.update(files)
            for path in deletions:
                tree.pop(path, None)
            digest = hashlib.sha1(json.dumps([parent, sorted((k, hashlib.sha256(v).hexdigest())
                                                             for k, v in tree.items())]).encode())
            sha = digest.hexdigest()
            commit_dir = self.repo_dir(repo) / "commits" / sha
            for path, data in tree.items():
                (commit_dir / path).parent.mkdir(parents=True, exist_ok=True)
                (commit_dir / path).write_bytes(data)
            commit_dir.mkdir(parents=True, exist_ok=True)
            (self.repo_dir(repo) / "refs" / branch).write_text(sha)
            return sha

    # -- HTTP ----------------------------------------------------------------
    def _dispatch(self, handler, method: str):
        path = unquote(urlparse(handler.path).path)
        self.requests.append((method, path))
        routes = [
            ("POST", r"/api/repos/create", self._create_repo),
            ("POST", r"/api/validate-yaml", self._validate_yaml),
            ("POST", rf"/api/models/{REPO}/branch/{REV}", self._create_branch),
            ("POST", rf"/api/models/{REPO}/preupload/{REV}", self._preupload),
            ("POST", rf"/api/models/{REPO}/commit/{REV}", self._commit_endpoint),
            ("GET", rf"/api/models/{REPO}(?:/revision/{REV})?", self._repo_info),
            ("GET", rf"/{REPO}/resolve/{REV}/(?P<path>.+)", self._resolve_file),
            ("HEAD", rf"/{REPO}/resolve/{REV}/(?P<path>.+)", self._resolve_file),
        ]
        for verb, pattern, action in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                length = int(handler.headers.get("Content-Length") or 0)
                body = handler.rfile.read(length) if length else b""
                return action(handler, method, body, **match.groupdict())
        return self._send(handler, 404, {"error": f"{method} {path} is not served"}, error_code="RepoNotFound")

    def _send(self, handler, status, payload=None, headers=None, body=None, error_code=None, head=False):
        data = body if body is not None else json.dumps(payload or {}).encode()
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Content-Type", "application/octet-stream" if body is not None else "application/json")
        if error_code:
            handler.send_header("X-Error-Code", error_code)
            handler.send_header("X-Error-Message", (payload or {}).get("error", error_code))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        if not head:
            handler.wfile.write(data)

    def _create_repo(self, handler, method, body):
        request = json.loads(body)
        repo = f"{request['organization']}/{request['name']}"
        if self.repo_dir(repo).exists():
            return self._send(handler, 409, {"error": "You already created this model repo", "url": repo})
        (self.repo_dir(repo) / "refs").mkdir(parents=True)
        (self.repo_dir(repo) / "commits").mkdir()
        self._commit(repo, "main", {".gitattributes": b"*.h5 filter=lfs diff=lfs merge=lfs -text\n"}, [])
        return self._send(handler, 200, {"url": f"{self.endpoint}/{repo}", "name": repo})

    def _validate_yaml(self, handler, method, body):
        """The client sends README.md here before uploading it; the metadata must parse, model-index included."""
        from huggingface_hub import ModelCard

        try:
            ModelCard(json.loads(body)["content"])
        except ValueError as error:
            return self._send(handler, 400, {"errors": [{"message": str(error)}]})
        return self._send(handler, 200, {"errors": [], "warnings": []})

    def _create_branch(self, handler, method, body, repo, rev):
        if (self.repo_dir(repo) / "refs" / rev).exists():
            return self._send(handler, 409, {"error": "Reference already exists"})
        (self.repo_dir(repo) / "refs" / rev).write_text(self.resolve(repo, "main"))
        return self._send(handler, 200, {})

    def _preupload(self, handler, method, body, repo, rev):
        if self.resolve(repo, rev) is None:
            return self._send(handler, 404, {"error": "Revision not found"}, error_code="RevisionNotFound")
        files = json.loads(body)["files"]
        return self._send(handler, 200, {"files": [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})

    def _commit_endpoint(self, handler, method, body, repo, rev):
        if self.resolve(repo, rev) is None:
            return self._send(handler, 404, {"error": "Revision not found"}, error_code="RevisionNotFound")
        files, deletions = {}, []
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                value = item["value"]
                content = value["content"]
                files[value["path"]] = base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
            elif item["key"] == "deletedFile":
                deletions.append(item["value"]["path"])
            elif item["key"] != "header":
                return self._send(handler, 400, {"error": f"commit item {item['key']!r} is not served"})
        sha = self._commit(repo, rev, files, deletions)
        return self._send(handler, 200, {"commitUrl": f"{self.endpoint}/{repo}/commit/{sha}", "commitOid": sha})

    def _repo_info(self, handler, method, body, repo, rev=None):
        sha = self.resolve(repo, rev or "main")
        if sha is None:
            code = "RevisionNotFound" if self.repo_dir(repo).exists() else "RepoNotFound"
            return self._send(handler, 404, {"error": "not found"}, error_code=code)
        commit_dir = self.repo_dir(repo) / "commits" / sha
        siblings = [{"rfilename": str(p.relative_to(commit_dir))} for p in commit_dir.rglob("*") if p.is_file()]
        return self._send(handler, 200, {"id": repo, "modelId": repo, "sha": sha, "siblings": siblings,
                                         "private": False, "tags": []})

    def _resolve_file(self, handler, method, body, repo, rev, path):
        sha = self.resolve(repo, rev)
        if sha is None:
            code = "RevisionNotFound" if self.repo_dir(repo).exists() else "RepoNotFound"
            return self._send(handler, 404, {"error": "not found"}, error_code=code, head=method == "HEAD")
        file = self.repo_dir(repo) / "commits" / sha / path
        if not file.is_file():
            return self._send(handler, 404, {"error": "Entry not found"}, error_code="EntryNotFound",
                              head=method == "HEAD")
        data = file.read_bytes()
        etag = f'"{hashlib.sha1(data).hexdigest()}"'  # git blob-like id of the bytes served now
        return self._send(handler, 200, headers={"X-Repo-Commit": sha, "ETag": etag}, body=data,
                          head=method == "HEAD")
