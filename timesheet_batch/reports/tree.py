"""The dependency tree of a batch or job: what each finished parent fired, level by level.

Built from ``job_dependencies`` (every firing, skip and error, with its parent) and
``batch_job_log`` (each dependent's state and output). ``timesheet-batch tree ID`` prints it;
``render_tree`` is what a ``status --tree`` would call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from timesheet_batch.db import repository as repo
from timesheet_batch.db.report_models import JobDependency

#: Deep enough for any sane chain; stops a corrupted table from recursing forever.
MAX_DEPTH = 20


@dataclass
class TreeNode:
    """One job (or batch) and the dependents it fired."""

    job_id: str | None
    label: str
    status: str
    detail: str = ""
    children: list[TreeNode] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"job_id": self.job_id, "label": self.label, "status": self.status, "detail": self.detail,
                "children": [c.as_dict() for c in self.children]}


def build_tree(session: Session, *, root_id: str) -> TreeNode | None:
    """The tree under a batch id or a job id; None if neither exists."""
    batch = repo.get_batch(session, batch_id=root_id)
    if batch is not None:
        root = TreeNode(batch.id, f"{batch.window.upper()}_WINDOW {batch.business_date}", batch.status,
                        batch.summary_key or "")
    else:
        job = repo.get_job(session, job_id=root_id)
        if job is None:
            return None
        root = _job_node(job)
    _add_children(session, root, depth=0)
    return root


def _job_node(job) -> TreeNode:
    label = f"{job.report_type} {job.role or ''} {job.business_date or ''}".strip()
    return TreeNode(job.job_id, label, job.status, job.output_file_path or job.error_message or "")


def _add_children(session: Session, node: TreeNode, *, depth: int) -> None:
    if depth >= MAX_DEPTH or node.job_id is None:
        return
    # A rule of several parents fires under its last parent; list it under the others too.
    mentioned = (JobDependency.parent_job_id == node.job_id) | JobDependency.parent_job_ids.contains(node.job_id)
    rows = session.scalars(select(JobDependency).where(mentioned).order_by(JobDependency.id)).all()
    for row in rows:
        job = repo.get_job(session, job_id=row.dependent_job_id) if row.dependent_job_id else None
        if job is None:
            label = f"{row.dependent_type} {row.role} {row.period_key}"
            node.children.append(TreeNode(None, label, row.status, row.error_message or ""))
            continue
        child = _job_node(job)
        if node.job_id not in row.parent_job_ids.split(",") and row.parent_job_id != node.job_id:
            continue  # a substring match of another id
        others = [p for p in row.parent_job_ids.split(",") if p != node.job_id]
        if others:
            child.detail += f"  (also after {', '.join(others)})"
        child.detail += f"  [{row.rule_name}, {row.condition}]"
        node.children.append(child)
        _add_children(session, child, depth=depth + 1)


def render_tree(node: TreeNode) -> str:
    """The tree as indented text lines."""
    lines = [f"{node.label}  {node.status}  {node.job_id or ''}  {node.detail}".rstrip()]
    _render_children(node, "", lines)
    return "\n".join(lines)


def _render_children(node: TreeNode, prefix: str, lines: list[str]) -> None:
    for index, child in enumerate(node.children):
        last = index == len(node.children) - 1
        text = f"{child.label}  {child.status}  {child.job_id or ''}  {child.detail}".rstrip()
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{text}")
        _render_children(child, prefix + ("   " if last else "│  "), lines)
