"""Scrolling reaches real viewers as CopyRect plus the new lines, pixel-exact."""

from __future__ import annotations

import pytest
from harness import RunningVncterm
from peers import libvnc
from peers.common import wait_until_equal
from peers.novnc_client import NoVncClient

pytestmark = pytest.mark.peer

SHELL = ["/bin/sh", "-c", "PS1='$ ' exec /bin/sh -i"]


def test_scrolling_output_goes_out_as_copyrect() -> None:
    with RunningVncterm(SHELL) as server, NoVncClient() as viewer:
        server.wait_text("$")
        viewer.connect("127.0.0.1", server.port, quality=None)  # noVNC lists CopyRect first
        viewer.type(
            "i=0; while [ $i -lt 60 ]; do i=$((i+1)); echo scrolled line $i; sleep 0.02; done\n"
        )
        server.wait_text("scrolled line 60", timeout=30)
        assert wait_until_equal(viewer, server.framebuffer, timeout=10)
        assert server.server is not None
        viewers = server.call(lambda: list(server.server.session.viewers))  # type: ignore[union-attr]
        assert viewers[0].copyrects_sent > 0
        # a second, different real viewer decodes the same scrolled screen
        result = libvnc.capture_result("127.0.0.1", server.port, encodings=["copyrect", "tight"])
        assert (result.rgb() == server.framebuffer()).all()
