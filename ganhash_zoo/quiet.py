"""Keeping TensorFlow's own chatter off the user's terminal.

TensorFlow's C++ start-up (oneDNN, CUDA probes) and the TensorFlow Lite
converter write straight to file descriptors 1 and 2, which neither
TF_CPP_MIN_LOG_LEVEL (before absl's logging starts) nor Python's streams
reach; these silence the descriptors for the duration.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys


@contextlib.contextmanager
def native_output_silenced(stdout: bool = False):
    """Send fd 2 (and fd 1 and Python's own streams, with ``stdout``) to /dev/null for the duration."""
    descriptors = (1, 2) if stdout else (2,)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(fd) for fd in descriptors]
    try:
        with contextlib.ExitStack() as stack:  # undone in reverse: streams back, handlers rebound, /dev/null closed
            devnull = stack.enter_context(open(os.devnull, "w"))
            stack.callback(_rebind_log_handlers, devnull, sys.stderr)
            if stdout:
                stack.enter_context(contextlib.redirect_stdout(devnull))
                stack.enter_context(contextlib.redirect_stderr(devnull))
            for fd in descriptors:
                os.dup2(devnull.fileno(), fd)
            yield
    finally:
        for fd, copy in zip(descriptors, saved):
            os.dup2(copy, fd)
            os.close(copy)


def _rebind_log_handlers(old_stream, new_stream) -> None:
    """Point logging handlers created on ``old_stream`` (e.g. by a ``logging.warning`` that configured the root
    logger inside the silenced stretch) at ``new_stream``: the old one is closed, and every later record would
    end in a "Logging error"."""
    loggers = [logging.getLogger(), *(logger for logger in logging.Logger.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is old_stream:
                handler.setStream(new_stream)


def start_keras() -> None:
    """Import Keras and touch the device once, quietly; a user who sets TF_CPP_MIN_LOG_LEVEL sees everything."""
    if "keras" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        import keras
    else:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        with native_output_silenced():
            import keras
    keras.ops.convert_to_numpy(keras.ops.zeros(()))
