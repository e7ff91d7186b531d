"""Differentiable image transforms in keras.ops (SSAH's hard-sample generator)."""

from __future__ import annotations

from keras import ops

FILL = 127.5  # mid-grey, for occluded and rotated-in pixels


def occlude(images, mask):
    """Blend towards grey where ``mask`` (B, H, W, 1) in [0, 1] is high."""
    return images * (1.0 - mask) + FILL * mask


def upsample_nearest(grid, height, width):
    """(B, g, g) -> (B, height, width, 1) by repeating cells (height, width divisible by g)."""
    g = ops.shape(grid)[1]
    up = ops.repeat(ops.repeat(grid, height // g, axis=1), width // g, axis=2)
    return ops.expand_dims(up, -1)


def rotate(images, angles):
    """Rotate each image about its centre by ``angles`` (B,) radians, bilinear, grey fill."""
    b, h, w, c = ops.shape(images)
    ys, xs = ops.meshgrid(ops.arange(h, dtype="float32"), ops.arange(w, dtype="float32"), indexing="ij")
    yc, xc = ys - (h - 1) / 2.0, xs - (w - 1) / 2.0
    cos = ops.cos(angles)[:, None, None]
    sin = ops.sin(angles)[:, None, None]
    src_x = cos * xc + sin * yc + (w - 1) / 2.0
    src_y = -sin * xc + cos * yc + (h - 1) / 2.0
    x0, y0 = ops.floor(src_x), ops.floor(src_y)
    wx, wy = src_x - x0, src_y - y0
    flat = ops.reshape(images, (b, h * w, c))

    def corner(yi, xi, weight):
        valid = ops.cast((xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1), "float32")
        index = ops.cast(ops.clip(yi, 0, h - 1) * w + ops.clip(xi, 0, w - 1), "int32")
        index = ops.broadcast_to(ops.reshape(index, (b, h * w, 1)), (b, h * w, c))
        values = ops.reshape(ops.take_along_axis(flat, index, axis=1), (b, h, w, c))
        weight = (weight * valid)[..., None]
        return values * weight, weight

    total, covered = 0.0, 0.0
    for yi, xi, weight in ((y0, x0, (1 - wx) * (1 - wy)), (y0, x0 + 1, wx * (1 - wy)),
                           (y0 + 1, x0, (1 - wx) * wy), (y0 + 1, x0 + 1, wx * wy)):
        value, weight = corner(yi, xi, weight)
        total, covered = total + value, covered + weight
    return total + FILL * (1.0 - covered)
