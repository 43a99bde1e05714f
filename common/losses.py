"""GAN and reconstruction losses (keras.ops, any Keras 3 backend).

Every function returns a float32 scalar: the MEAN over all elements of its inputs (batch,
height, width, channels), unless its docstring says otherwise. Inputs of any float dtype
(float16/bfloat16 under mixed precision, float64 numpy arrays) are computed in float32.

Adversarial losses accept one discriminator output or a list of them (a multi-scale
discriminator's heads); with a list, each head's mean is taken separately and the means
are SUMMED, as the multi-scale CycleGAN's loss does (SPEC section 1, model B).
"""

from __future__ import annotations

from keras import ops

# Probabilities are clipped to [EPSILON, 1 - EPSILON] before taking logs, so BCE is at most
# -log(1e-7) ~= 16.1 per element and its gradient stays finite at p = 0 and p = 1.
EPSILON = 1e-7


def _float(x):
    return ops.cast(ops.convert_to_tensor(x), "float32")


def _sum_over_heads(per_head, *preds):
    """per_head(*tensors) -> scalar; preds are tensors or equally long lists of tensors."""
    if isinstance(preds[0], (list, tuple)):
        terms = [per_head(*heads) for heads in zip(*preds, strict=True)]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total
    return per_head(*preds)


def _check_same_heads(real, fake):
    real_heads = len(real) if isinstance(real, (list, tuple)) else None
    fake_heads = len(fake) if isinstance(fake, (list, tuple)) else None
    if real_heads != fake_heads:
        raise ValueError(f"real and fake discriminator outputs differ in heads: "
                         f"{real_heads or 'single tensor'} vs {fake_heads or 'single tensor'}")


# --- least-squares GAN (Mao et al. 2017), the CycleGAN choice ---------------------------

def lsgan_real_loss(pred):
    """mean((pred - 1)^2): push scores towards the 'real' label 1.

    pred: discriminator scores, any shape (e.g. PatchGAN [B, h, w, 1]), unbounded;
    or a list of them (summed over heads).
    """
    return _sum_over_heads(lambda p: ops.mean(ops.square(_float(p) - 1.0)), pred)


def lsgan_fake_loss(pred):
    """mean(pred^2): push scores towards the 'fake' label 0. pred as in lsgan_real_loss."""
    return _sum_over_heads(lambda p: ops.mean(ops.square(_float(p))), pred)


def lsgan_discriminator_loss(real_pred, fake_pred):
    """MSE(1, D(real)) + MSE(0, D(fake)) (no 1/2 factor; SPEC section 1).

    With lists (one entry per head, same count for both) the result is the sum over heads
    of both terms.
    """
    _check_same_heads(real_pred, fake_pred)
    return lsgan_real_loss(real_pred) + lsgan_fake_loss(fake_pred)


def lsgan_generator_loss(fake_pred):
    """MSE(1, D(G(z))): the generator wants its samples scored as real."""
    return lsgan_real_loss(fake_pred)


# --- binary cross-entropy ----------------------------------------------------------------

def bce_loss(target, pred, from_logits=False):
    """Mean binary cross-entropy -[t log p + (1 - t) log(1 - p)].

    target: labels in [0, 1], a float or a tensor broadcastable to pred (soft labels allowed).
    pred: probabilities in [0, 1] (clipped to [EPSILON, 1 - EPSILON]), or logits in
    (-inf, inf) with from_logits=True, which uses the stable form
    max(x, 0) - x t + log(1 + exp(-|x|)).
    """
    pred = _float(pred)
    target = ops.cast(ops.convert_to_tensor(target), pred.dtype)
    if from_logits:
        per_element = (ops.relu(pred) - pred * target
                       + ops.log1p(ops.exp(-ops.abs(pred))))
    else:
        p = ops.clip(pred, EPSILON, 1.0 - EPSILON)
        per_element = -(target * ops.log(p) + (1.0 - target) * ops.log(1.0 - p))
    return ops.mean(per_element)


def bce_discriminator_loss(real, fake, from_logits=False, *, real_target=1.0, fake_target=0.0):
    """BCE(D(real), real_target) + BCE(D(fake), fake_target); lists of heads are summed.

    real, fake: discriminator outputs (probabilities, or logits with from_logits=True).
    real_target / fake_target: 1 and 0, or soft labels (e.g. a tensor drawn from [0.9, 1]).
    """
    _check_same_heads(real, fake)
    return (_sum_over_heads(lambda p: bce_loss(real_target, p, from_logits), real)
            + _sum_over_heads(lambda p: bce_loss(fake_target, p, from_logits), fake))


def nonsaturating_generator_loss(fake, from_logits=False):
    """-log D(G(z)) averaged, i.e. BCE with target 1 (Goodfellow et al. 2014, section 3).

    fake: D's outputs on generated images (probabilities, or logits); lists are summed.
    """
    return _sum_over_heads(lambda p: bce_loss(1.0, p, from_logits), fake)


# --- reconstruction ----------------------------------------------------------------------

def l1_loss(a, b):
    """mean(|a - b|) over all elements; a, b same shape (any value range)."""
    return ops.mean(ops.abs(_float(a) - _float(b)))


def l2_loss(a, b):
    """mean((a - b)^2) over all elements."""
    return ops.mean(ops.square(_float(a) - _float(b)))


def _masked_mean(per_element, mask, total=None):
    mask = ops.broadcast_to(ops.cast(mask, per_element.dtype), ops.shape(per_element))
    total = ops.sum(mask) if total is None else ops.cast(total, per_element.dtype)
    # An image batch without any hole pixel has nothing to reconstruct: loss 0, not NaN.
    return ops.divide_no_nan(ops.sum(mask * per_element), total)


def mask_total(mask, channels):
    """The masked losses' own denominator for images of `channels` channels: sum(mask), each pixel of
    a one-channel [B, H, W, 1] mask counted once per image channel."""
    total = ops.sum(_float(mask))
    return total * channels if mask.shape[-1] == 1 else total


def masked_l1_loss(a, b, mask, total=None):
    """Mean |a - b| over the hole only: sum(mask * |a - b|) / (sum(mask) * channels).

    a, b: [B, H, W, C]; mask: [B, H, W, 1] (or [B, H, W, C]) with 1 inside the hole, 0
    outside, or any non-negative weights (overlap_weights): then it is the weighted mean
    sum(w * |a - b|) / (sum(w) * channels), normalised by the weights themselves, so a hole's
    reconstruction counts the same however little of its box it fills. Returns 0 when the
    mask is empty.

    total: the denominator to use instead of this batch's sum(w) * channels (mask_total). On N
    replicas each holding 1/N of the global batch, pass the mean over the replicas of their
    mask_total: the mean of the replicas' losses is then the one-device loss of the global batch,
    also when their masks hold different amounts of weight (bands cut off at the image border).
    """
    a = _float(a)
    return _masked_mean(ops.abs(a - _float(b)), mask, total)


def masked_l2_loss(a, b, mask, total=None):
    """Mean (a - b)^2 over the hole only (or weighted by mask); same conventions as masked_l1_loss."""
    a = _float(a)
    return _masked_mean(ops.square(a - _float(b)), mask, total)


def overlap_weights(mask, overlap=4, border_weight=10.0):
    """Context-Encoder "overlap" weights (Pathak et al. 2016, their train.lua's overlapPred and
    overlapL2Weight): the region a generator predicts is the hole grown by `overlap` px, so it
    sees the band around the hole as context and is asked to reproduce it as well.

    mask: [B, H, W, 1] (or [H, W, 1]), 1 inside the hole (values > 0.5 count as hole).
    Returns float32 weights of the same shape:
      * 1 inside the hole;
      * border_weight on the band: the known pixels within Chebyshev distance `overlap` of a hole
        pixel, i.e. the (2*overlap + 1)^2 square centred on the pixel holds some hole;
      * 0 elsewhere (pixels beyond the image border are no band: the band is cut off there).
    weights > 0 is the predicted region (inpainting.holes.predicted_regions). overlap=0: weights = mask.
    Example (overlap=2, 4x4 hole): a 4x4 block of 1s inside a ring two pixels wide of 10s.
    """
    mask = ops.convert_to_tensor(mask)
    single = len(mask.shape) == 3
    if single:
        mask = ops.expand_dims(mask, 0)
    hole = ops.cast(mask > 0.5, "float32")
    weights = hole
    if overlap > 0:
        k = int(overlap)
        # max-pooling ignores the padding: the image's outside never counts as hole
        near_hole = ops.max_pool(hole, pool_size=2 * k + 1, strides=1, padding="same",
                                 data_format="channels_last")
        weights = hole + float(border_weight) * (near_hole - hole)
    return weights[0] if single else weights


# --- CycleGAN terms (Zhu et al. 2017) ----------------------------------------------------

def cycle_loss(real, reconstructed):
    """Cycle-consistency MAE: mean |x - F(G(x))|; both [B, H, W, C] in the same range.

    Unweighted; the caller multiplies by lambda_cycle (10).
    """
    return l1_loss(real, reconstructed)


def identity_loss(real, same):
    """Identity MAE: mean |y - G(y)|; unweighted (the caller applies lambda_cycle * lambda_id)."""
    return l1_loss(real, same)
