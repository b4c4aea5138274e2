"""FastConformer-RNNT architectures Budgie builds itself (tests, benchmarks, training).

Parakeet is a FastConformer encoder (8x depthwise-striding subsampling, 80 ms frames) with an
RNNT decoder. These helpers build the same architecture at other sizes from a plain config dict,
so tests and benchmarks exercise the production NeMo code path without downloading weights.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

#: Encoder sizes: name -> (d_model, n_layers, n_heads, pred_hidden/joint_hidden).
SIZES = {
    "test": (64, 2, 2, 64),
    "tiny": (176, 8, 4, 320),
    # the size train/ trains for the embedded parakeet-tiny-en (fits a 2-core CPU training budget)
    "tiny-cpu": (144, 6, 4, 256),
    "0.6b": (1024, 24, 8, 640),  # the parakeet-rnnt-0.6b encoder/decoder widths
    "1.1b": (1024, 42, 8, 640),  # parakeet-*-1.1b: the 0.6b widths, 42 layers
    "large": (512, 17, 8, 640),  # FastConformer Large (~115M): hybrid streaming multi, realtime EOU 120M
}

DECODERS = ("rnnt", "tdt", "ctc")
EOU_TOKEN = "<EOU>"  # the end-of-utterance piece of nvidia/parakeet_realtime_eou_120m-v1
#: TDT duration set of the released parakeet-tdt models (loss.tdt_kwargs.durations in their configs).
TDT_DURATIONS = [0, 1, 2, 3, 4]

#: Cache-aware lookaheads (left frames, right frames); the first is the default.
DEFAULT_ATT_CONTEXTS = [[70, 13], [70, 1]]


def train_tokenizer(
    texts: Iterable[str], out_dir: str | os.PathLike, vocab_size: int, special: Iterable[str] = ()
) -> Path:
    """Train a SentencePiece unigram tokenizer in the layout NeMo's BPE models expect.

    ``special``: whole pieces such as ``<EOU>`` the tokenizer keeps as single tokens.
    """
    import sentencepiece as spm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.txt"
    corpus.write_text("\n".join(t.strip().lower() for t in texts if t.strip()) + "\n")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(out / "tokenizer"),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
        **({"user_defined_symbols": list(special)} if special else {}),
    )
    vocab = [line.split("\t")[0] for line in (out / "tokenizer.vocab").read_text().splitlines()]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    corpus.unlink()
    return out


def rnnt_config(
    tokenizer_dir: str | os.PathLike,
    size: str = "tiny",
    *,
    att_context_size: list | None = None,
    hybrid_ctc: bool = False,
    spec_augment: bool = False,
    dropout: float = 0.1,
    decoder: str = "rnnt",
    eou: bool = False,
) -> dict:
    """Return a model config dict for a cache-aware FastConformer-RNNT (optionally hybrid RNNT+CTC).

    ``att_context_size=None`` gives the cache-aware multi-lookahead default; ``[-1, -1]`` gives a
    full-context (offline-only) encoder like ``nvidia/parakeet-rnnt-0.6b``. ``decoder``: ``rnnt``,
    ``tdt`` (token-and-duration transducer, as parakeet-tdt-*) or ``ctc`` (as parakeet-ctc-*).
    ``eou`` marks a tokenizer built with an ``<EOU>`` piece (parakeet_realtime_eou_120m-v1); the
    config itself does not change.
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, not {decoder!r}")
    d_model, n_layers, n_heads, hidden = SIZES[size]
    contexts = DEFAULT_ATT_CONTEXTS if att_context_size is None else att_context_size
    streaming = contexts != [-1, -1]
    encoder = {
        "_target_": "nemo.collections.asr.modules.ConformerEncoder",
        "feat_in": 80,
        "feat_out": -1,
        "n_layers": n_layers,
        "d_model": d_model,
        "subsampling": "dw_striding",
        "subsampling_factor": 8,
        "subsampling_conv_channels": min(d_model, 256),
        "causal_downsampling": streaming,
        "ff_expansion_factor": 4,
        "self_attention_model": "rel_pos",
        "n_heads": n_heads,
        "att_context_size": contexts,
        "att_context_style": "chunked_limited" if streaming else "regular",
        "xscaling": True,
        "untie_biases": True,
        "pos_emb_max_len": 5000,
        "conv_kernel_size": 9,
        "conv_norm_type": "layer_norm" if streaming else "batch_norm",
        "conv_context_size": "causal" if streaming else None,
        "dropout": dropout,
        "dropout_pre_encoder": dropout,
        "dropout_emb": 0.0,
        "dropout_att": dropout,
    }
    if streaming and isinstance(contexts[0], list) and len(contexts) > 1:
        encoder["att_context_probs"] = None
    cfg = {
        "sample_rate": 16000,
        "model_defaults": {"enc_hidden": d_model, "pred_hidden": hidden, "joint_hidden": hidden},
        "tokenizer": {"dir": str(tokenizer_dir), "type": "bpe"},
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": 16000,
            # No per-utterance normalisation: a streaming model cannot see the whole utterance,
            # so offline and streaming features stay identical.
            "normalize": "NA",
            "window_size": 0.025,
            "window_stride": 0.01,
            "window": "hann",
            "features": 80,
            "n_fft": 512,
            "log": True,
            "frame_splicing": 1,
            "dither": 1e-5,
            "pad_to": 0,
            "pad_value": 0.0,
        },
        "encoder": encoder,
        "decoder": {
            "_target_": "nemo.collections.asr.modules.RNNTDecoder",
            "normalization_mode": None,
            "random_state_sampling": False,
            "blank_as_pad": True,
            "prednet": {"pred_hidden": hidden, "pred_rnn_layers": 1, "t_max": None, "dropout": dropout},
        },
        "joint": {
            "_target_": "nemo.collections.asr.modules.RNNTJoint",
            "log_softmax": None,
            "preserve_memory": False,
            "fuse_loss_wer": True,
            "fused_batch_size": 4,
            "jointnet": {"joint_hidden": hidden, "activation": "relu", "dropout": dropout},
        },
        "decoding": {"strategy": "greedy_batch", "greedy": {"max_symbols": 10}},
        # transcribe() on file paths reads these dataloader settings, as on released Parakeet checkpoints
        "validation_ds": {
            "manifest_filepath": None,
            "sample_rate": 16000,
            "batch_size": 4,
            "shuffle": False,
            "use_start_end_token": False,
        },
        "loss": {"loss_name": "default"},
        "optim": {"name": "adamw", "lr": 1e-3, "betas": [0.9, 0.98], "weight_decay": 1e-3},
    }
    if spec_augment:
        cfg["spec_augment"] = {
            "_target_": "nemo.collections.asr.modules.SpectrogramAugmentation",
            "freq_masks": 2,
            "time_masks": 5,
            "freq_width": 27,
            "time_width": 0.05,
        }
    if decoder == "tdt":
        cfg["joint"]["num_extra_outputs"] = len(TDT_DURATIONS)
        cfg["loss"] = {"loss_name": "tdt", "tdt_kwargs": {"durations": TDT_DURATIONS, "sigma": 0.02, "omega": 0.1}}
        cfg["decoding"].update(model_type="tdt", durations=TDT_DURATIONS)
    if decoder == "ctc":
        for key in ("decoder", "joint", "loss"):
            cfg.pop(key)
        cfg["decoder"] = {
            "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
            "feat_in": d_model,
            "num_classes": -1,
            "vocabulary": [],
        }
        cfg["decoding"] = {"strategy": "greedy"}
    if hybrid_ctc:
        cfg["aux_ctc"] = {
            "ctc_loss_weight": 0.3,
            "use_cer": False,
            "ctc_reduction": "mean_batch",
            "decoder": {
                "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
                "feat_in": None,
                "num_classes": -1,
                "vocabulary": [],
            },
            "decoding": {"strategy": "greedy"},
        }
    return cfg


def build_model(cfg: dict):
    """Instantiate an untrained NeMo model from :func:`rnnt_config` output."""
    from nemo.collections.asr.models import EncDecCTCModelBPE, EncDecHybridRNNTCTCBPEModel, EncDecRNNTBPEModel
    from omegaconf import OmegaConf

    if "joint" not in cfg:
        model_cls = EncDecCTCModelBPE
    else:
        model_cls = EncDecHybridRNNTCTCBPEModel if "aux_ctc" in cfg else EncDecRNNTBPEModel
    model = model_cls(cfg=OmegaConf.create(cfg))
    return model.eval()


def calibrate_emission(model, tokens_per_frame: float = 0.3, audio=None, steps: int = 14) -> float:
    """Shift the joint's blank logit so a random-weights model emits about as often as a trained one.

    Untrained RNNT joints emit up to ``max_symbols`` tokens on every frame, which makes greedy
    decoding (and so any speed figure) ~10x dearer than with real weights, where most frames are
    blank; trained English models emit roughly 0.2-0.4 tokens per 80 ms frame. The encoder runs
    once; only the decoder is repeated while bisecting. ``audio``: float32 16 kHz samples (default:
    8 s of seeded noise). Returns the rate reached.
    """
    import numpy as np
    import torch

    if audio is None:
        audio = np.random.default_rng(0).normal(0, 0.1, 8 * 16000).astype(np.float32)
    signal = torch.from_numpy(np.asarray(audio, dtype=np.float32))[None]
    bias = model.joint.joint_net[-1].bias
    blank = int(model.tokenizer.vocab_size)  # blank follows the vocabulary (then TDT durations, if any)
    base = bias[blank].item()
    with torch.inference_mode():
        feats, length = model.preprocessor(input_signal=signal, length=torch.tensor([signal.shape[1]]))
        enc, enc_len = model.encoder(audio_signal=feats, length=length)

        def rate(shift: float) -> float:
            bias[blank] = base + shift
            hyp = model.decoding.rnnt_decoder_predictions_tensor(
                encoder_output=enc, encoded_lengths=enc_len, return_hypotheses=True
            )[0]
            return len(hyp.y_sequence) / int(enc_len[0])

        low, high, best = 0.0, 64.0, (float("inf"), 0.0)
        for _ in range(steps):
            middle = (low + high) / 2
            reached = rate(middle)
            best = min(best, (abs(reached - tokens_per_frame), middle))
            low, high = (middle, high) if reached > tokens_per_frame else (low, middle)
        return round(rate(best[1]), 3)


def build_and_save(
    out_path: str | os.PathLike,
    size: str = "test",
    *,
    texts: Iterable[str] | None = None,
    vocab_size: int = 64,
    seed: int = 0,
    tokens_per_frame: float | None = None,
    **config_kwargs,
) -> Path:
    """Build an untrained model of ``size`` with its own tokenizer and save it as a ``.nemo`` file.

    ``tokens_per_frame`` calibrates the blank logit (see :func:`calibrate_emission`) for speed benchmarks.
    """
    import tempfile

    import torch

    torch.manual_seed(seed)
    texts = list(texts or _DEFAULT_TEXT)
    with tempfile.TemporaryDirectory() as tmp:
        special = [EOU_TOKEN] if config_kwargs.get("eou") else []
        tok = train_tokenizer(texts, Path(tmp) / "tok", vocab_size, special)
        model = build_model(rnnt_config(tok, size, **config_kwargs))
        if tokens_per_frame is not None:
            rate = calibrate_emission(model, tokens_per_frame)
            logger.info("calibrated emission: %.2f tokens per frame", rate)
        out = Path(out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save_to(str(out))
    return out


_DEFAULT_TEXT = [
    "the quick brown fox jumps over the lazy dog",
    "she sells sea shells by the sea shore",
    "a journey of a thousand miles begins with a single step",
    "all that glitters is not gold",
    "the early bird catches the worm",
    "actions speak louder than words",
    "practice makes perfect and time waits for no one",
    "speech recognition turns spoken words into written text",
    "budgie serves parakeet models for batch and streaming transcription",
] * 3
