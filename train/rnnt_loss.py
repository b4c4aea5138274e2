"""A vectorised RNN-T loss for CPU training (the NeMo CPU fallback walks the lattice cell by cell in Python).

NeMo 3.0's ``warprnnt_numba`` loss, without CUDA, runs ``CPURNNT.cost_and_grad``: a Python double loop over
(t, u) with one tensor op per lattice cell, per utterance. On this 2-core CPU it was ~55 % of a hybrid training
step. torchaudio's C++ ``rnnt_loss`` would be the library answer, but torchaudio cannot be installed next to the
local torch 2.13 wheel. This loss computes exactly the same quantity (checked against NeMo's by
``python train/rnnt_loss.py``) with one batched step per encoder frame: within a frame, the emit recursion
along ``u`` is a linear recurrence in log space, solved with ``logcumsumexp``; autograd gives the gradient.
"""

from __future__ import annotations

import torch


def rnnt_loss(
    log_probs: torch.Tensor, labels: torch.Tensor, frames: torch.Tensor, label_lens: torch.Tensor, blank: int
) -> torch.Tensor:
    """Per-utterance RNN-T negative log-likelihood.

    log_probs: (B, T, U + 1, V) log-softmax of the joint; labels: (B, U); frames: (B,) valid encoder frames;
    label_lens: (B,) valid labels; blank: the blank index. Returns (B,).
    """
    b, t_max, u1, _ = log_probs.shape
    blank_lp = log_probs[..., blank]  # (B, T, U+1): stay on row u, move to t+1
    if u1 > 1:
        emit_lp = torch.gather(
            log_probs[:, :, :-1, :], 3, labels[:, None, : u1 - 1, None].expand(b, t_max, u1 - 1, 1)
        ).squeeze(-1)
        cum_emit = torch.cat([log_probs.new_zeros(b, t_max, 1), torch.cumsum(emit_lp, dim=2)], dim=2)
    else:
        cum_emit = log_probs.new_zeros(b, t_max, 1)
    # alpha[t, u] = log sum_{k <= u} exp(alpha[t-1, k] + blank[t-1, k] + sum_{k <= j < u} emit[t, j])
    alpha = cum_emit[:, 0]
    alphas = [alpha]
    for t in range(1, t_max):
        arrive = alpha + blank_lp[:, t - 1]
        ce = cum_emit[:, t]
        alpha = ce + torch.logcumsumexp(arrive - ce, dim=1)
        alphas.append(alpha)
    alphas = torch.stack(alphas, dim=1)  # (B, T, U+1)
    rows = torch.arange(b)
    last_t, last_u = frames.long() - 1, label_lens.long()
    return -(alphas[rows, last_t, last_u] + blank_lp[rows, last_t, last_u])


def hybrid_rnnt_loss(
    model, enc: torch.Tensor, enc_lens: torch.Tensor, dec: torch.Tensor, tokens: torch.Tensor, token_lens: torch.Tensor
) -> torch.Tensor:
    """NeMo's ``mean_batch`` RNN-T loss of a hybrid/RNNT model from encoder (B, D, T) and decoder (B, D, U+1)
    outputs, computed with :func:`rnnt_loss`."""
    logits = model.joint.joint(enc.transpose(1, 2), dec.transpose(1, 2))  # (B, T, U+1, V)
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    blank = log_probs.shape[-1] - 1
    return rnnt_loss(log_probs, tokens, enc_lens, token_lens, blank).mean()


if __name__ == "__main__":  # equivalence check against NeMo's loss on the shipped model and random audio
    import sys
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from nemo.collections.asr.models import ASRModel

    torch.manual_seed(0)
    model = ASRModel.restore_from("registry/weights/parakeet-tiny-en.nemo", map_location="cpu")
    model.eval()  # no dropout: both losses must see the same joint
    b = 6
    sig = torch.randn(b, 16000 * 3) * 0.1
    alen = torch.tensor([48000, 40000, 30000, 20000, 16000, 12000])
    tok = torch.randint(0, 500, (b, 12))
    tlen = torch.tensor([12, 10, 8, 5, 3, 1])
    with torch.no_grad():
        feats, flen = model.preprocessor(input_signal=sig, length=alen)
        enc, elen = model.encoder(audio_signal=feats, length=flen)
        dec, dlen, _ = model.decoder(targets=tok, target_length=tlen)
    enc.requires_grad_(True)
    t0 = time.time()
    ref, _, _, _ = model.joint(
        encoder_outputs=enc,
        decoder_outputs=dec,
        encoder_lengths=elen,
        transcripts=tok,
        transcript_lengths=dlen,
        compute_wer=False,
    )
    ref.backward()
    g_ref, t_ref = enc.grad.clone(), time.time() - t0
    enc.grad = None
    t0 = time.time()
    mine = hybrid_rnnt_loss(model, enc, elen, dec, tok, tlen)
    mine.backward()
    g_mine, t_mine = enc.grad.clone(), time.time() - t0
    print(
        f"NeMo {float(ref):.4f} in {t_ref:.2f}s, vectorised {float(mine):.4f} in {t_mine:.2f}s, "
        f"max grad diff {float((g_ref - g_mine).abs().max()):.2e} (grad max {float(g_ref.abs().max()):.2e})"
    )
    assert abs(float(ref) - float(mine)) < 1e-3 * abs(float(ref)), "loss mismatch"
    assert torch.allclose(g_ref, g_mine, atol=1e-4, rtol=1e-3), "gradient mismatch"
    print("OK")
