"""Stage runner for the embedded parakeet-tiny-en model (cache-aware FastConformer hybrid RNNT+CTC).

Resumable: state (weights, optimizer, schedule position, stage, step, RNG) lives in ``train/checkpoints/latest.pt``,
saved every ``checkpoint_every`` steps and at exit (SIGTERM / SIGINT / ``--max-minutes`` / ``--stop-at``); the
``.nemo`` export (``registry/weights/parakeet-tiny-en.nemo``, RNNT decoder as default) is refreshed with each save.

    python train/train.py --max-minutes 85                 # run / resume the curriculum (words -> phrases -> rnnt)
    python train/train.py --stage rnnt --max-minutes 85    # jump to a stage (keeps weights, restarts its schedule)
    python train/train.py --memorize                       # pipeline sanity check: over-fit one batch

A plain PyTorch loop (no Lightning trainer): the CTC-only stages call preprocessor -> encoder -> CTC head directly,
which keeps the step cheap and the checkpoint format simple.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from train.rnnt_loss import hybrid_rnnt_loss  # noqa: E402

TOKENIZER_DIR = ROOT / "train" / "tokenizer"
METRICS = ROOT / "train" / "metrics.jsonl"

log = logging.getLogger("train")
_STOP = {"flag": False, "why": ""}


def _on_signal(signum, _frame):
    _STOP["flag"] = True
    _STOP["why"] = signal.Signals(signum).name


def load_cfg(path):
    return yaml.safe_load(Path(path).read_text())


# ----------------------------------------------------------------------------- model
def ensure_tokenizer(cfg) -> Path:
    if (TOKENIZER_DIR / "tokenizer.model").exists():
        return TOKENIZER_DIR
    from train.architectures import train_tokenizer
    from train.data import build_text

    _, train, _, _ = build_text()
    log.info("training a %d-piece unigram tokenizer on %d training snippets", cfg["model"]["vocab_size"], len(train))
    return train_tokenizer(train, TOKENIZER_DIR, cfg["model"]["vocab_size"])


def model_config(cfg) -> dict:
    from train.architectures import rnnt_config

    m = cfg["model"]
    mc = rnnt_config(
        ensure_tokenizer(cfg),
        m["size"],
        att_context_size=m["att_context_size"],
        hybrid_ctc=True,
        spec_augment=True,
        dropout=m["dropout"],
    )
    mc["aux_ctc"]["ctc_loss_weight"] = m["ctc_loss_weight"]
    # warprnnt_numba (the NeMo default) is the fastest RNNT loss on CPU here
    mc["loss"] = {"loss_name": "default"}
    return mc


def build(cfg):
    from train.architectures import build_model

    model = build_model(model_config(cfg))
    model.train()
    return model


# ----------------------------------------------------------------------------- data
class Batcher:
    """Duration-bucketed random batches from a NeMo JSON-lines manifest; on-line noise / gain / padding."""

    def __init__(self, manifest, tokenizer, batch, noise, seed, max_dur=12.0):
        rows = [json.loads(l) for l in Path(manifest).read_text().splitlines() if l.strip()]
        self.rows = [r for r in rows if r["duration"] <= max_dur]
        self.tokens = [tokenizer.text_to_ids(r["text"]) for r in self.rows]
        self.batch, self.noise = batch, noise
        self.rng = random.Random(seed)
        self.nprng = np.random.default_rng(seed)
        self.queue = []

    def _refill(self):
        idx = list(range(len(self.rows)))
        self.rng.shuffle(idx)
        chunk = self.batch * 50
        batches = []
        for i in range(0, len(idx), chunk):
            part = sorted(idx[i : i + chunk], key=lambda j: self.rows[j]["duration"])
            batches += [
                part[k : k + self.batch]
                for k in range(0, len(part), self.batch)
                if len(part[k : k + self.batch]) == self.batch
            ]
        self.rng.shuffle(batches)
        self.queue = batches

    def _audio(self, j):
        a, sr = sf.read(self.rows[j]["audio_filepath"], dtype="float32")
        assert sr == 16000
        if self.noise:
            r = self.nprng
            a = a * r.uniform(0.3, 1.0)
            lead, trail = int(r.uniform(0, 0.2) * sr), int(r.uniform(0, 0.2) * sr)
            a = np.concatenate([np.zeros(lead, np.float32), a, np.zeros(trail, np.float32)])
            if r.random() < 0.7:
                snr = r.uniform(15, 40)
                p = float(np.mean(a**2)) + 1e-10
                a = a + r.normal(0, math.sqrt(p / 10 ** (snr / 10)), a.shape).astype(np.float32)
        return a

    def next(self):
        if not self.queue:
            self._refill()
        ids = self.queue.pop()
        return collate([self._audio(j) for j in ids], [self.tokens[j] for j in ids])

    def state_dict(self):
        return {"rng": self.rng.getstate(), "nprng": self.nprng.bit_generator.state, "queue": self.queue}

    def load_state_dict(self, s):
        self.rng.setstate(s["rng"])
        self.nprng.bit_generator.state = s["nprng"]
        self.queue = s["queue"]


def collate(audios, tokens):
    n = len(audios)
    alen = torch.tensor([len(a) for a in audios])
    sig = torch.zeros(n, int(alen.max()))
    for i, a in enumerate(audios):
        sig[i, : len(a)] = torch.from_numpy(a)
    tlen = torch.tensor([len(t) for t in tokens])
    tok = torch.zeros(n, max(1, int(tlen.max())), dtype=torch.long)
    for i, t in enumerate(tokens):
        tok[i, : len(t)] = torch.tensor(t)
    return sig, alen, tok, tlen


# ----------------------------------------------------------------------------- steps
def encode(model, sig, alen, spec_augment):
    feats, flen = model.preprocessor(input_signal=sig, length=alen)
    if spec_augment and model.spec_augmentation is not None:
        feats = model.spec_augmentation(input_spec=feats, length=flen)
    return model.encoder(audio_signal=feats, length=flen)


def compute_loss(model, batch, stage_cfg, ctc_weight, freeze_encoder=False):
    """CTC-only, or hybrid (1 - w) * RNNT + w * CTC. ``freeze_encoder``: RNNT only, no encoder gradients (cheap
    warm-up of a freshly initialised prediction/joint network on a CTC-pretrained encoder)."""
    sig, alen, tok, tlen = batch
    if freeze_encoder:
        with torch.no_grad():
            enc, elen = encode(model, sig, alen, stage_cfg.get("spec_augment", False))
        dec, _, _ = model.decoder(targets=tok, target_length=tlen)
        rnnt = hybrid_rnnt_loss(model, enc, elen, dec, tok, tlen)
        return rnnt, {"rnnt": float(rnnt.detach())}
    enc, elen = encode(model, sig, alen, stage_cfg.get("spec_augment", False))
    log_probs = model.ctc_decoder(encoder_output=enc)
    ctc = model.ctc_loss(log_probs=log_probs, targets=tok, input_lengths=elen, target_lengths=tlen)
    out = {"ctc": float(ctc.detach())}
    if stage_cfg["loss"] == "ctc":
        return ctc, out
    dec, _, _ = model.decoder(targets=tok, target_length=tlen)
    rnnt = hybrid_rnnt_loss(model, enc, elen, dec, tok, tlen)
    out["rnnt"] = float(rnnt.detach())
    return (1 - ctc_weight) * rnnt + ctc_weight * ctc, out


def lr_at(step, sc):
    if step < sc["warmup"]:
        return sc["lr"] * (step + 1) / sc["warmup"]
    prog = min(1.0, (step - sc["warmup"]) / max(1, sc["steps"] - sc["warmup"]))
    return sc["min_lr"] + 0.5 * (sc["lr"] - sc["min_lr"]) * (1 + math.cos(math.pi * prog))


def ctc_greedy(model, log_probs, lens):
    blank = log_probs.shape[-1] - 1
    out = []
    for lp, n in zip(log_probs.argmax(-1), lens, strict=False):
        prev, ids = -1, []
        for t in lp[: int(n)].tolist():
            if t != prev and t != blank:
                ids.append(t)
            prev = t
        out.append(model.tokenizer.ids_to_text(ids) if ids else "")
    return out


@torch.no_grad()
def validate(model, rows, with_rnnt):
    import jiwer

    model.eval()
    refs, hyp_c, hyp_r = [], [], []
    for i in range(0, len(rows), 16):
        part = rows[i : i + 16]
        audios = [sf.read(r["audio_filepath"], dtype="float32")[0] for r in part]
        sig, alen, _, _ = collate(audios, [[0]] * len(part))
        enc, elen = encode(model, sig, alen, False)
        hyp_c += ctc_greedy(model, model.ctc_decoder(encoder_output=enc), elen)
        if with_rnnt:
            hyps = model.decoding.rnnt_decoder_predictions_tensor(encoder_output=enc, encoded_lengths=elen)
            if isinstance(hyps, tuple):
                hyps = hyps[0]
            hyp_r += [h.text if hasattr(h, "text") else str(h) for h in hyps]
        refs += [r["text"] for r in part]
    model.train()
    res = {
        "val_wer_ctc": jiwer.wer(refs, [h if h.strip() else "<empty>" for h in hyp_c]),
        "example": [refs[0], hyp_c[0]],
    }
    if with_rnnt:
        res["val_wer_rnnt"] = jiwer.wer(refs, [h if h.strip() else "<empty>" for h in hyp_r])
        res["example_rnnt"] = hyp_r[0]
    return res


# ----------------------------------------------------------------------------- checkpoint / export
def save_checkpoint(path, model, opt, state, batcher, mcfg):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pt.tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "state": state,
            "batcher": batcher.state_dict() if batcher else None,
            "model_cfg": mcfg,
            "torch_rng": torch.get_rng_state(),
            "py_rng": random.getstate(),
            "saved_at": datetime.now(UTC).isoformat(),
        },
        tmp,
    )
    os.replace(tmp, path)


def export_nemo(model, path):
    path = ROOT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    model.change_decoding_strategy(decoder_type="rnnt", verbose=False)
    tmp = path.with_name(path.name + ".tmp")
    model.save_to(str(tmp))
    os.replace(tmp, path)
    if was_training:
        model.train()


# ----------------------------------------------------------------------------- main loop
def memorize(cfg, steps=50, n=16):
    """Over-fit one batch of ``n`` clips (CTC): proves model, tokenizer and data path can learn."""
    torch.manual_seed(0)
    model = build(cfg)
    rows = [json.loads(l) for l in (ROOT / "train/data/val.json").read_text().splitlines()][:n]
    audios = [sf.read(r["audio_filepath"], dtype="float32")[0] for r in rows]
    batch = collate(audios, [model.tokenizer.text_to_ids(r["text"]) for r in rows])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), weight_decay=1e-3)
    sc = {"loss": "ctc", "spec_augment": False}
    t0 = time.time()
    for s in range(steps):
        loss, parts = compute_loss(model, batch, sc, 0.3)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if s % 10 == 0 or s == steps - 1:
            log.info("memorize step %d ctc %.3f (%.2f s/step)", s, parts["ctc"], (time.time() - t0) / (s + 1))
    model.eval()
    with torch.no_grad():
        enc, elen = encode(model, batch[0], batch[1], False)
        hyp = ctc_greedy(model, model.ctc_decoder(encoder_output=enc), elen)
    import jiwer

    for r, h in list(zip(rows, hyp, strict=False))[:4]:
        log.info("REF %s | HYP %s", r["text"], h)
    log.info("memorize WER %.3f", jiwer.wer([r["text"] for r in rows], [h or "<empty>" for h in hyp]))
    # also check one hybrid step runs
    model.train()
    t0 = time.time()
    loss, parts = compute_loss(model, batch, {"loss": "hybrid", "spec_augment": False}, 0.3)
    loss.backward()
    log.info("hybrid step ok: %s (%.2f s)", parts, time.time() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "train/config.yaml"))
    ap.add_argument("--stages", default=None, help="comma list; default: all stages of the config, in order")
    ap.add_argument("--stage", default=None, help="jump to this stage (restarts its schedule, keeps weights)")
    ap.add_argument("--max-minutes", type=float, default=85.0)
    ap.add_argument("--stop-at", default=None, help="UTC HH:MM at which to save and stop")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memorize", action="store_true")
    ap.add_argument("--mem-steps", type=int, default=50)
    ap.add_argument("--mem-n", type=int, default=16)
    ap.add_argument("--no-export", action="store_true")
    a = ap.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stdout)
    for name in ("nemo_logger", "nemo", "lightning", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    torch.set_num_threads(a.threads)
    os.chdir(ROOT)
    cfg = load_cfg(a.config)
    if a.memorize:
        return memorize(cfg, a.mem_steps, a.mem_n)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    deadline = time.time() + a.max_minutes * 60
    if a.stop_at:
        now = datetime.now(UTC)
        hh, mm = map(int, a.stop_at.split(":"))
        stop = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
        deadline = min(deadline, stop.timestamp())
    order = a.stages.split(",") if a.stages else list(cfg["stages"])

    ckpt_path = ROOT / cfg["checkpoint_path"]
    torch.manual_seed(cfg["seed"])
    random.seed(cfg["seed"])
    model = build(cfg)
    mcfg = model_config(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), weight_decay=1e-3)
    state = {"stage": order[0], "stage_step": 0, "global_step": 0, "done": [], "seconds": 0.0}
    batcher_state = None
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        if ck.get("optimizer"):
            opt.load_state_dict(ck["optimizer"])
        state = ck["state"]
        batcher_state = ck.get("batcher")
        torch.set_rng_state(ck["torch_rng"])
        random.setstate(ck["py_rng"])
        log.info("resumed from %s: %s", ckpt_path, state)
    if a.stage and a.stage != state["stage"]:
        log.info("jumping from stage %s (step %d) to %s", state["stage"], state["stage_step"], a.stage)
        state["done"].append(state["stage"])
        state.update(stage=a.stage, stage_step=0)
        batcher_state = None

    ctc_w = cfg["model"]["ctc_loss_weight"]
    val_rows = [json.loads(l) for l in (ROOT / "train/data/val.json").read_text().splitlines()][: cfg["val_clips"]]
    export = not a.no_export
    t_start = time.time()

    def checkpoint(batcher, reason):
        state["seconds"] += time.time() - checkpoint.t
        checkpoint.t = time.time()
        save_checkpoint(ckpt_path, model, opt, state, batcher, mcfg)
        if export:
            export_nemo(model, cfg["export_path"])
        log.info(
            "checkpoint (%s) at stage %s step %d / global %d, %.1f min trained in total",
            reason,
            state["stage"],
            state["stage_step"],
            state["global_step"],
            state["seconds"] / 60,
        )

    checkpoint.t = time.time()

    while True:
        stage = state["stage"]
        if stage not in cfg["stages"]:
            raise SystemExit(f"unknown stage {stage}")
        sc = cfg["stages"][stage]
        if state["stage_step"] >= sc["steps"]:
            i = order.index(stage) if stage in order else len(order)
            if i + 1 >= len(order):
                log.info("all stages done")
                break
            state["done"].append(stage)
            state.update(stage=order[i + 1], stage_step=0)
            batcher_state = None
            continue
        batcher = Batcher(
            ROOT / sc["manifest"],
            model.tokenizer,
            sc["batch"],
            sc.get("noise", False),
            seed=cfg["seed"] + state["global_step"],
        )
        if batcher_state:
            batcher.load_state_dict(batcher_state)
            batcher_state = None
        log.info(
            "stage %s: %d clips, batch %d, step %d/%d",
            stage,
            len(batcher.rows),
            sc["batch"],
            state["stage_step"],
            sc["steps"],
        )
        with_rnnt = sc["loss"] != "ctc"
        ema, t_last, n_last = None, time.time(), 0
        while state["stage_step"] < sc["steps"]:
            step = state["stage_step"]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, sc)
            batch = batcher.next()
            frozen = step < sc.get("freeze_encoder_steps", 0)
            loss, parts = compute_loss(model, batch, sc, ctc_w, freeze_encoder=frozen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            if torch.isfinite(loss):
                opt.step()
            else:
                log.warning("non-finite loss at step %d, skipped", step)
            state["stage_step"] += 1
            state["global_step"] += 1
            lv = float(loss)
            ema = lv if ema is None else 0.98 * ema + 0.02 * lv
            n_last += 1
            if state["stage_step"] % 25 == 0:
                dt = (time.time() - t_last) / n_last
                log.info(
                    "%s step %d loss %.3f ema %.3f %s lr %.2e gnorm %.1f %.2f s/step",
                    stage,
                    state["stage_step"],
                    lv,
                    ema,
                    " ".join(f"{k} {v:.3f}" for k, v in parts.items()),
                    opt.param_groups[0]["lr"],
                    float(gn),
                    dt,
                )
                t_last, n_last = time.time(), 0
            if state["stage_step"] % cfg["val_every"] == 0:
                v = validate(model, val_rows, with_rnnt)
                rec = {
                    "time": datetime.now(UTC).isoformat(timespec="seconds"),
                    "stage": stage,
                    "stage_step": state["stage_step"],
                    "global_step": state["global_step"],
                    "loss_ema": round(ema, 3),
                    **{k: (round(x, 4) if isinstance(x, float) else x) for k, x in v.items()},
                }
                log.info("VAL %s", json.dumps(rec))
                with open(METRICS, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            stop = _STOP["flag"] or time.time() > deadline
            if state["stage_step"] % cfg["checkpoint_every"] == 0 or stop:
                checkpoint(batcher, _STOP["why"] or ("deadline" if stop else "periodic"))
            if stop:
                log.info(
                    "stopping (%s) after %.1f min this run", _STOP["why"] or "deadline", (time.time() - t_start) / 60
                )
                return
        checkpoint(batcher, f"end of stage {stage}")
    checkpoint(None, "done")


if __name__ == "__main__":
    main()
