"""Run under `mpiexec -n N`: data-parallel training gives one process's numbers.

Each rank builds its model from a different seed (DistributedDataParallel must broadcast
rank 0's), reads its share through DistributedSampler, and takes K steps; rank 0 also
trains a plain copy on the global batch (the ranks' batches together). It checks, for SGD
with momentum and Adam, with and without BatchNorm (SyncBatchNorm under DDP), mini-batch
and full-batch: every rank's parameters and buffers are bit-identical to rank 0's, and
rank 0's match the single process within RTOL, ATOL. Any failure raises, which aborts
the job (non-zero exit). Then the same for GlobalBatch, every rank reading the same global
batches.
"""

import itertools

import numpy as np

import descent as torch
import descent.distributed as dist
from descent import nn
from descent.distributed.global_batch import GlobalBatch
from descent.nn.parallel import DistributedDataParallel, SyncBatchNorm
from descent.utils.data import DataLoader, DistributedSampler, TensorDataset

SAMPLES, FEATURES, OUTPUTS, STEPS = 10, 5, 3, 4
RTOL, ATOL = 1e-5, 1e-6  # float32: the sums of the ranks' shares round differently


def make_model(batchnorm: bool, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    # No bias before BatchNorm: its gradient is zero up to rounding, which Adam would
    # blow up to full steps of noise.
    norm = [nn.BatchNorm1d(8)] if batchnorm else []
    first = nn.Linear(FEATURES, 8, bias=not batchnorm)
    return nn.Sequential(first, *norm, nn.Tanh(), nn.Linear(8, OUTPUTS))


def make_optimizer(name: str, params):
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.1, momentum=0.9)
    return torch.optim.Adam(params, lr=0.01)


def global_batches(dataset, world: int, batch: int | str):
    """The index lists of each step, per rank, as DistributedSampler and DataLoader give."""
    steps = []
    for epoch in itertools.count():
        per_rank = []
        for rank in range(world):
            sampler = DistributedSampler(dataset, world, rank, shuffle=True, seed=7)
            sampler.set_epoch(epoch)
            size = len(sampler) if batch == "full" else batch
            order = list(sampler)
            per_rank.append([order[i : i + size] for i in range(0, len(order), size)])
        steps.extend(zip(*per_rank))
        if len(steps) >= STEPS:
            return steps[:STEPS]


def train_distributed(dataset, batchnorm, optimizer_name, batch, rank, world):
    model = SyncBatchNorm.convert_sync_batchnorm(make_model(batchnorm, seed=100 + rank))
    ddp = DistributedDataParallel(model)
    assert all(key.startswith("module.") for key in ddp.state_dict())
    optimizer = make_optimizer(optimizer_name, ddp.parameters())
    sampler = DistributedSampler(dataset, shuffle=True, seed=7)
    loader = DataLoader(dataset, batch_size=batch, sampler=sampler)
    done = 0
    for epoch in itertools.count():
        sampler.set_epoch(epoch)
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(ddp(x), y).backward()
            optimizer.step()
            done += 1
            if done == STEPS:
                return model


def train_single(dataset, batchnorm, optimizer_name, batch, world):
    model = make_model(batchnorm, seed=100)
    optimizer = make_optimizer(optimizer_name, model.parameters())
    x_all, y_all = dataset.tensors
    for step in global_batches(dataset, world, batch):
        index = torch.tensor(np.concatenate(step))
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x_all[index]), y_all[index]).backward()
        optimizer.step()
    return model


def state(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def check_identical_to_rank0(values: dict[str, np.ndarray]) -> None:
    for name, value in values.items():
        mine = torch.tensor(value)
        dist.broadcast(mine, src=0)
        if not np.array_equal(mine.numpy(), value):
            raise AssertionError(f"rank {dist.get_rank()}: {name} differs from rank 0's")


def plain_batchnorm_stays_identical(dataset, rank: int) -> None:
    """Unconverted BatchNorm normalises per rank (so no single-process match), but rank 0's
    running statistics are broadcast before each forward: the replicas stay identical."""
    ddp = DistributedDataParallel(make_model(batchnorm=True, seed=100 + rank))
    optimizer = make_optimizer("adam", ddp.parameters())
    sampler = DistributedSampler(dataset, seed=7)
    for x, y in DataLoader(dataset, batch_size=2, sampler=sampler, drop_last=True):
        optimizer.zero_grad()
        nn.functional.mse_loss(ddp(x), y).backward()
        optimizer.step()
    ddp(dataset.tensors[0][:2])  # the last broadcast of the running statistics
    check_identical_to_rank0(state(ddp))


def accumulation_and_unused_parameters(dataset, rank: int, world: int) -> None:
    """Two backward passes, the first under no_sync, average the sum of both, as torch's;
    a parameter that gets no gradient is named at the next forward."""
    model = make_model(batchnorm=False, seed=100)
    ddp = DistributedDataParallel(model)
    x, y = dataset.tensors
    share = list(DistributedSampler(dataset, world, rank, shuffle=False))
    with ddp.no_sync():
        nn.functional.mse_loss(ddp(x[share[:1]]), y[share[:1]]).backward()
    nn.functional.mse_loss(ddp(x[share[1:2]]), y[share[1:2]]).backward()
    reference = make_model(batchnorm=False, seed=100)
    for r in range(world):
        theirs = list(DistributedSampler(dataset, world, r, shuffle=False))
        for index in (theirs[:1], theirs[1:2]):
            loss = nn.functional.mse_loss(reference(x[index]), y[index]) / world
            loss.backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), RTOL, ATOL, err_msg=name)
    check_identical_to_rank0({n: p.grad.numpy() for n, p in model.named_parameters()})
    spare = nn.ModuleDict({"used": nn.Linear(FEATURES, 1), "spare": nn.Linear(1, 1)})
    ddp = DistributedDataParallel(spare)
    spare.used(x[:2]).sum().backward()
    try:
        ddp(x[:2])
    except RuntimeError as error:
        assert "gave no gradient to spare.weight, spare.bias" in str(error), error
    else:
        raise AssertionError("an unused parameter went unnoticed")


def global_batch_matches_one_process(dataset, world: int) -> float:
    """GlobalBatch (what `descent train --ranks N` runs): every rank reads the same global
    batches; N ranks give one process's parameters, for shares of any size, a batch
    smaller than the ranks (computed whole by each) and BatchNorm included."""
    worst = 0.0
    cases = ((False, "sgd", 3), (False, "sgd", 1), (True, "adam", 4), (False, "adam", SAMPLES))
    for batchnorm, optimizer_name, batch in cases:
        runs = []
        for shared in (True, False):
            model = make_model(batchnorm, seed=100)
            if shared:
                GlobalBatch(model)
            optimizer = make_optimizer(optimizer_name, model.parameters())
            loader = DataLoader(dataset, batch_size=batch, shuffle=True, seed=7)
            for _, (x, y) in zip(range(STEPS), itertools.cycle(loader)):
                optimizer.zero_grad()
                nn.functional.mse_loss(model(x), y).backward()
                optimizer.step()
            runs.append(state(model))
        check_identical_to_rank0(runs[0])
        for name, want in runs[1].items():
            case = f"GlobalBatch {name} ({batchnorm=}, {optimizer_name}, {batch=})"
            np.testing.assert_allclose(runs[0][name], want, RTOL, ATOL, err_msg=case)
            scale = max(np.abs(want).max() if want.size else 1.0, 1e-12)
            worst = max(worst, float(np.abs(runs[0][name] - want).max() / scale))
    return worst


def main() -> None:
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SAMPLES, FEATURES)).astype(np.float32)
    y = rng.standard_normal((SAMPLES, OUTPUTS)).astype(np.float32)
    dataset = TensorDataset(torch.tensor(x), torch.tensor(y))
    worst = 0.0
    for batchnorm, optimizer_name, batch in itertools.product(
        (False, True), ("sgd", "adam"), (2, "full")
    ):
        if batch == "full":
            batch = DistributedSampler(dataset, world, rank).num_samples
        values = state(train_distributed(dataset, batchnorm, optimizer_name, batch, rank, world))
        check_identical_to_rank0(values)
        if rank == 0:
            expected = state(train_single(dataset, batchnorm, optimizer_name, batch, world))
            case = f"{batchnorm=}, {optimizer_name}, {batch=}"
            for name, want in expected.items():
                message = f"{name} ({case})"
                np.testing.assert_allclose(values[name], want, RTOL, ATOL, err_msg=message)
                scale = np.abs(want).max() if want.size else 1.0
                worst = max(worst, float(np.abs(values[name] - want).max() / max(scale, 1e-12)))
    plain_batchnorm_stays_identical(dataset, rank)
    accumulation_and_unused_parameters(dataset, rank, world)
    worst = max(worst, global_batch_matches_one_process(dataset, world))
    dist.barrier()
    if rank == 0:
        print(f"equivalence ok: {world} ranks, worst relative difference {worst:.2e}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
