"""Incremental decoding of Opus in WebM or Ogg (what a browser's MediaRecorder sends) as bytes arrive.

FFmpeg's demuxers read from a file-like object. :class:`BytePipe` is one that grows as frames
arrive and blocks the reader until more bytes come (or the stream ends), so PyAV demuxes and
decodes each block as soon as its bytes are complete. Bytes are dropped once read: nothing is
buffered beyond what the demuxer itself holds. One decoder thread per session runs the blocking
demux loop; it resamples to 16 kHz mono float32 and hands the samples to the session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from core.audio import SAMPLE_RATE

logger = logging.getLogger(__name__)

FORMATS = {"webm": "matroska", "ogg": "ogg"}  # FFmpeg demuxer names
# bound what FFmpeg's stream probe may read ahead (Opus in WebM/Ogg states its codec in the header)
OPEN_OPTIONS = {"probesize": "32768"}


class BytePipe:
    """A read-only file whose reads block until bytes arrive; ``close()`` marks the end of the stream."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._waiting = False  # the reader is blocked on an empty buffer
        self.fed_at = 0.0  # monotonic time of the last feed
        self.total = 0  # bytes fed

    def feed(self, data: bytes) -> None:
        with self._cond:
            self._buf += data
            self.total += len(data)
            self.fed_at = time.monotonic()
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        with self._cond:
            while not self._buf and not self._eof:
                self._waiting = True
                self._cond.notify_all()
                self._cond.wait()
            self._waiting = False
            n = len(self._buf) if size is None or size < 0 else size
            out = bytes(self._buf[:n])
            del self._buf[:n]
            return out

    def wait_drained(self, timeout: float) -> bool:
        """Block until the reader has consumed everything and waits for more (or the stream ended)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._eof or (not self._buf and self._waiting), timeout)

    @property
    def closed(self) -> bool:
        return self._eof


class ContainerDecoder(threading.Thread):
    """Demux + decode one WebM/Ogg stream fed by ``feed()``; calls ``on_audio(samples, t_received)``
    with 16 kHz mono float32 and ``on_error(message)`` once if the stream cannot be decoded."""

    def __init__(
        self,
        encoding: str,
        on_audio: Callable[[np.ndarray, float], None],
        on_error: Callable[[str], None],
        name: str = "decode",
    ):
        super().__init__(name=name, daemon=True)
        self.encoding = encoding
        self.format = FORMATS[encoding]
        self.pipe = BytePipe()
        self.on_audio = on_audio
        self.on_error = on_error
        self.failed = False
        self.stopped = False

    def feed(self, data: bytes) -> None:
        self.pipe.feed(data)

    def settle(self, timeout: float = 5.0) -> None:
        """Return once every byte fed so far has been demuxed and decoded (for flush)."""
        self.pipe.wait_drained(timeout)

    def finish(self, timeout: float = 10.0) -> None:
        """End of stream: decode what is left, flush the resampler, stop the thread."""
        self.pipe.close()
        self.join(timeout)

    def stop(self) -> None:
        """The session is over: unblock the reader and let the thread exit."""
        self.stopped = True
        self.pipe.close()

    def run(self) -> None:
        import av

        container = None
        try:
            container = av.open(self.pipe, mode="r", format=self.format, options=OPEN_OPTIONS)
            if not container.streams.audio:
                raise ValueError("the stream has no audio track")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    self._deliver(out)
            for out in resampler.resample(None):
                self._deliver(out)
        except Exception as exc:  # FFmpeg's InvalidDataError and friends: the bytes are not this format
            if not self.stopped and not (self.pipe.closed and self.pipe.total == 0):  # an empty stream is fine
                self.failed = True
                logger.info("%s stream could not be decoded: %s", self.encoding, exc)
                self.on_error(f"could not decode the {self.encoding} stream: {exc}")
        finally:
            if container is not None:
                container.close()

    def _deliver(self, frame) -> None:
        samples = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
        if samples.size:
            self.on_audio(np.clip(samples, -1.0, 1.0), self.pipe.fed_at)
