"""Every podman command the podman target runs, each mapped to ``PodmanError`` at this boundary.

Commands go through ``gitferry.process.run`` (a timeout and a process limit). Error messages keep
podman's own sentence and drop the noise it prints on hosts without systemd or syslog.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gitferry import process
from gitferry.errors import CommandError, PodmanError
from gitferry.targets import podman_observe as observe
from gitferry.targets import podman_translate as translate


def podman_message(stderr: str) -> str:
    """podman's error sentence (the last ``Error:`` line), else its last line of output."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error:")]
    return errors[-1] if errors else (lines[-1] if lines else "no error output")


class PodmanCLI:
    def __init__(self, podman: str, tls_verify: bool) -> None:
        self.podman = podman
        self.tls_verify = f"--tls-verify={'true' if tls_verify else 'false'}"

    async def run(
        self, *args: str, timeout: float = 60.0, stdin: str | None = None, check: bool = True
    ) -> process.Completed:
        try:
            return await process.run([self.podman, *args], timeout=timeout, stdin=stdin, check=check)
        except CommandError as e:
            message = f"podman {' '.join(args[:2])} failed: {podman_message(e.stderr or str(e))}"
            raise PodmanError(message, argv=e.argv, stderr=e.stderr) from e

    async def pods(self, owner_label: str) -> dict[str, observe.LivePod]:
        """The owner's pods and their app containers: two podman calls, whatever their number."""
        label = f"label={translate.OWNER}={owner_label}"
        pod_ps, ps = await asyncio.gather(
            self.run("pod", "ps", "--filter", label, "--format", "json"),
            self.run("ps", "-a", "--filter", label, "--format", "json"),
        )
        return observe.parse_pods(pod_ps.stdout, ps.stdout)

    async def ensure_image(self, image: str, policy: str, timeout: float) -> None:
        """Make ``image`` present as its imagePullPolicy says, or raise PodmanError saying why not."""
        if policy != "Always" and (await self.run("image", "exists", image, check=False)).returncode == 0:
            return
        if policy == "Never":
            raise PodmanError(f"image {image} is not in local storage and its imagePullPolicy is Never")
        try:
            await self.run("pull", "-q", self.tls_verify, image, timeout=timeout)
        except PodmanError as e:
            detail = podman_message(e.stderr)
            where = "is not in local storage and " if policy != "Always" else "has imagePullPolicy Always but "
            raise PodmanError(f"image {image} {where}cannot be pulled: {detail}") from e

    async def stop_and_remove(self, pod_id: str, grace_seconds: int) -> None:
        # Stopping first lets conmon leave the pod's cgroup before ``pod rm`` deletes it: ``pod rm -f``
        # on a running pod waits about 3 s on these hosts for that cgroup to empty.
        await self.run("pod", "stop", "-t", str(grace_seconds), pod_id)
        await self.run("pod", "rm", "-f", pod_id)

    async def play(self, plan: translate.PodPlan, owner_label: str, timeout: float) -> None:
        """``kube play`` one pod; on failure remove what it left half made and say why."""
        try:
            await self.run("kube", "play", self.tls_verify, "-", stdin=plan.document, timeout=timeout)
        except PodmanError as e:
            if "pod already exists" in e.stderr:
                raise PodmanError(
                    f"{plan.key}: podman pod {plan.name} already exists and owner {owner_label} did not make it;"
                    " remove it or rename the object",
                    stderr=e.stderr,
                ) from e
            await self.remove_half_made(plan.name, owner_label)
            message = f"{plan.key}: podman could not start pod {plan.name}: {podman_message(e.stderr)}"
            raise PodmanError(message, argv=e.argv, stderr=e.stderr) from e

    async def remove_half_made(self, pod_name: str, owner_label: str) -> None:
        found = await self.run(
            "pod", "ps", "-q", "--filter", f"name=^{pod_name}$", "--filter", f"label={translate.OWNER}={owner_label}"
        )
        for pod_id in found.stdout.split():
            await self.run("pod", "rm", "-f", "-t", "0", pod_id)

    async def inspect(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """``container inspect`` of many containers in one call, by ID; vanished ones are left out."""
        if not ids:
            return {}
        done = await self.run("container", "inspect", *ids, check=False)
        return {str(c.get("Id")): c for c in observe.load_json(done.stdout, "container inspect")}

    async def healthy(self, container_id: str) -> bool | None:
        """Run the container's healthcheck now: without systemd podman 4.3 never runs it by itself."""
        done = await self.run("healthcheck", "run", container_id, check=False)
        return {0: True, 1: False}.get(done.returncode)

    async def last_exit_code(self, container_id: str) -> int | None:
        """The exit code of the container's last death (a crashlooping container shows none)."""
        filters = ("--filter", f"container={container_id}", "--filter", "event=died")
        done = await self.run("events", "--stream=false", "--since", "10m", "--format", "json", *filters, check=False)
        for line in reversed(done.stdout.splitlines()):
            try:
                return int(json.loads(line)["ContainerExitCode"])
            except (ValueError, KeyError, TypeError):
                continue
        return None

    async def secret_names(self) -> set[str]:
        return set((await self.run("secret", "ls", "--format", "{{.Name}}")).stdout.split())

    async def secret_labels(self, name: str) -> dict[str, str]:
        found = observe.load_json((await self.run("secret", "inspect", name)).stdout, "secret inspect")
        return dict(((found[0] if found else {}).get("Spec") or {}).get("Labels") or {})

    async def volumes(self) -> dict[str, dict[str, str]]:
        found = observe.load_json((await self.run("volume", "ls", "--format", "json")).stdout, "volume ls")
        return {str(v.get("Name")): dict(v.get("Labels") or {}) for v in found}


def label_args(labels: dict[str, str]) -> list[str]:
    return [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
