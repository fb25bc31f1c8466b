"""The `descent` command's flags and subcommands: flags in, jobs run, clear errors out.

The jobs (`descent.cli.jobs`) are imported inside each command, so `descent --help` and a
usage error never pay for NumPy's training stack, matplotlib or scikit-learn.

    descent train                       # an MLP on digits by mini-batch SGD, in seconds
    descent train --config run.toml --lr 0.1
    descent evaluate runs/<run>
    descent predict runs/<run> --input new.csv --output predictions.csv
    descent export runs/<run> --format onnx
    descent resume runs/<run> --epochs 40
    descent report runs/<run>
    descent datasets
"""

from __future__ import annotations

import dataclasses
import sys
import tomllib
import warnings
from collections.abc import Sequence

import click

from descent.cli import arms
from descent.cli.config import TASKS, RunConfig
from descent.cli.schedules import SCHEDULES
from descent.errors import CheckpointError
from descent.nn.loss import LOSSES
from descent.optim import OPTIMIZERS

EXPECTED_ERRORS = (ValueError, FileNotFoundError, OSError, CheckpointError, TypeError)


@dataclasses.dataclass
class Invocation:
    """What `main` was given: the command's arguments, and whether a run's report may be
    drawn by a child process started before training (`descent.cli.renderer`)."""

    argv: list[str]
    report_aside: bool = False


class BatchSize(click.ParamType):
    """A whole number >= 1, or 'full' for batch gradient descent."""

    name = "N|full"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value == "full":
            return value
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number nor 'full'", param, ctx)


def _echo(line: str) -> None:
    click.echo(line)


def _run_job(job, *args, **kwargs):
    """Run a job, turning the errors a user can fix into a one-line message and exit code 1."""
    from descent.train import TrainingDiverged

    try:
        return job(*args, **kwargs)
    except (*EXPECTED_ERRORS, TrainingDiverged) as error:
        raise click.ClickException(str(error)) from None


OVER_RANKS = ("train", "resume", "compare")
"""The commands that run over MPI ranks; the others run in one process."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="descent", prog_name="descent")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Train neural networks by backpropagation and gradient descent, and watch them learn."""
    from descent.cli.ranks import launched_size

    if launched_size() > 1 and ctx.invoked_subcommand not in OVER_RANKS:
        raise click.UsageError(
            f"descent {ctx.invoked_subcommand} runs in one process, not under mpiexec; "
            f"{', '.join(OVER_RANKS)} run over MPI ranks"
        )


TRAIN_EXAMPLE = """
\b
Examples:
  descent train
  descent train --data moons --model mlp:32,32:tanh --batch-size full --lr 0.5
  descent train --config run.toml --epochs 50
"""


CONFIG_OPTIONS = {
    "config_path": (["--config", "config_path"], dict(type=click.Path(dir_okay=False),
                    help="A TOML file of settings; flags given here override it.")),
    "data": (["--data"], dict(
        help="A built-in data set (see `descent datasets`) or a .csv/.npz file.")),
    "target": (["--target"],
               dict(help="The label column of a CSV file (default: the last column).")),
    "task": (["--task"], dict(type=click.Choice(TASKS),
             help="What a data file's labels are: auto (whole numbers and text are classes, "
                  "other numbers regressed), classification or regression.")),
    "model": (["--model"], dict(help="mlp:128,64 | mlp:128,64:tanh | linear | lenet")),
    "loss": (["--loss"], dict(type=click.Choice(list(LOSSES)),
             help="Default: cross_entropy to classify, mse to regress.")),
    "optimizer": (["--optimizer"], dict(type=click.Choice(list(OPTIMIZERS)))),
    "lr": (["--lr"], dict(type=float,
           help="The learning rate. Default: sgd's 0.5 x (1 - momentum) x min(1, batch/32), "
                "i.e. 0.05 at batch 32 or more and 0.0016 at batch 1 with momentum 0.9; "
                "adam, adamw, rmsprop 1e-3, adagrad 1e-2 at every batch size.")),
    "momentum": (["--momentum"], dict(type=float,
                 help="Momentum of sgd (default 0.9) and rmsprop (default 0).")),
    "nesterov": (["--nesterov/--no-nesterov"], dict(default=None, help="Nesterov momentum (sgd).")),
    "weight_decay": (["--weight-decay"], dict(type=float)),
    "schedule": (["--schedule"], dict(type=click.Choice(list(SCHEDULES)))),
    "gamma": (["--gamma"], dict(type=float,
              help="The lr factor of the step and exponential schedules.")),
    "step_size": (["--step-size"],
                  dict(type=int, help="Epochs between the step schedule's drops.")),
    "batch_size": (["--batch-size"], dict(type=BatchSize(),
                   help="1 is stochastic, N mini-batch, 'full' batch gradient descent.")),
    "epochs": (["--epochs"], dict(type=int, help="Default: 20, or 200 with --batch-size full.")),
    "seed": (["--seed"], dict(type=int)),
    "val_split": (["--val-split"],
                  dict(type=float, help="The validation fraction of the training data.")),
    "test_split": (["--test-split"], dict(type=float, help="The test fraction of the data.")),
    "standardize": (["--standardize/--no-standardize"], dict(default=None)),
    "early_stopping": (["--early-stopping"], dict(type=int, metavar="PATIENCE",
                       help="Stop after this many epochs without a better val_loss (the "
                            "training loss with --val-split 0), keeping the best weights; 0: "
                            "off.")),
    "guard": (["--guard/--no-guard"], dict(default=None,
              help="Roll back a diverging run and lower the lr, then stop; also stop a loss "
                   "that keeps rising above its best.")),
    "clip_grad_norm": (["--clip-grad-norm"], dict(type=float, metavar="MAX",
                       help="Scale the gradients down to this total norm before each step; "
                            "0: off.")),
    "scale_lr": (["--scale-lr"], dict(type=click.Choice(["none", "linear"]),
                 help="linear: the lr times the number of ranks, reached by a linear warm-up "
                      "from the lr over --warmup-epochs (Goyal et al. 2017), for a global "
                      "--batch-size grown with the ranks (N x the batch the lr suits). The "
                      "run keeps the ranks it started on, wherever it resumes.")),
    "warmup_epochs": (["--warmup-epochs"], dict(type=int, metavar="W",
                      help="Epochs of the --scale-lr linear warm-up (default 5).")),
    "out": (["--out"], dict(type=click.Path(file_okay=False), help="Where run folders go.")),
}  # fmt: skip
"""Every RunConfig setting's flag: (declarations, click.option keywords), by setting."""


def _with_default(name: str, options: dict) -> dict:
    """The option's keywords, its help ending with RunConfig's default where that is a value
    (lr, epochs, momentum and loss depend on other settings; their help says how). Written
    out, as the flag's own default is None so that a config file's value is not overridden."""
    fields = {field.name: field.default for field in dataclasses.fields(RunConfig)}
    default = fields.get(name)
    if default is None:
        return options
    shown = str(default).lower() if isinstance(default, bool) else default
    return {**options, "help": f"{options.get('help', '')}  [default: {shown}]".strip()}


def config_options(command=None, skip: Sequence[str] = (), hide: Sequence[str] = ()):
    """Every RunConfig setting but `skip` as a flag, gathered into one `config` argument;
    `hide` ones are taken but left out of --help (for a command that refuses them, saying
    why)."""

    def decorate(command):
        for name, (declarations, options) in reversed(CONFIG_OPTIONS.items()):
            if name not in skip:
                command = click.option(*declarations, hidden=name in hide,
                                       **_with_default(name, options))(command)  # fmt: skip
        return command

    return decorate(command) if command is not None else decorate


def _config(config_path, flags) -> RunConfig:
    try:
        if config_path:
            return RunConfig.from_toml(config_path, **flags)
        return RunConfig.from_mapping({k: v for k, v in flags.items() if v is not None},
                                      source="flags")  # fmt: skip
    except EXPECTED_ERRORS as error:
        raise click.ClickException(str(error)) from None


PROGRESS = click.option("--progress/--no-progress", default=True, show_default=True,
                        help="Show a progress bar (on a terminal).")  # fmt: skip

RANKS = click.option("--ranks", type=click.IntRange(min=1), metavar="N",
                     help="Run as N MPI processes on this machine (mpiexec; they share the "
                          "cores); --batch-size stays the global batch, so the numbers are one "
                          "process's. Across machines: mpiexec --hostfile hosts -n N descent "
                          "... Needs the mpi extra: pip install \"descent[mpi]\".")  # fmt: skip

CHECK_EVERY = click.option("--check-every", type=click.IntRange(min=1), default=100,
                           show_default=True, metavar="STEPS",
                           help="Over ranks: check that every rank's parameters are still "
                                "rank 0's every this many steps.")  # fmt: skip


def _joined(ranks: int | None, check_every: int = 100):
    """This process's place among MPI ranks; with --ranks N outside mpiexec, the command is
    run again under mpiexec and its exit code ends this one."""
    from descent.cli import ranks as mpi

    try:
        if ranks is not None and ranks > 1 and mpi.launched_size() == 1:
            raise click.exceptions.Exit(mpi.relaunch(_argv(), ranks))
        return mpi.join(ranks, check_every)
    except (ImportError, ValueError) as error:
        raise click.ClickException(str(error)) from None


def _argv() -> list[str]:
    """The command's own arguments, as `main` was given them."""
    invocation = click.get_current_context().find_root().obj
    return list(invocation.argv) if invocation else sys.argv[1:]


def _report_writer(world=None):
    """The jobs' `write_report`, as a context: a child renderer's, started now, when `main`
    was run as the command itself and this process writes the run (rank 0); else this
    process's own."""
    from descent.cli.renderer import report_writer

    invocation = click.get_current_context().find_root().obj
    aside = bool(invocation and invocation.report_aside)
    return report_writer(aside and (world is None or world.writes))


def _run_ranked(world, job, *args, **kwargs):
    """`_run_job` for a command that may run over ranks. A rank that fails alone ends the
    whole job (the others would wait for it forever); divergence, which every rank meets at
    the same step, ends each one normally, so that rank 0 can write its report."""
    from descent import backend
    from descent.distributed.global_batch import ReplicasDiverged
    from descent.train import TrainingDiverged

    try:
        with backend.blas_threads(world.blas_threads):  # the ranks share the machine's cores
            return job(*args, **kwargs)
    except TrainingDiverged as error:
        raise click.ClickException(str(error)) from None
    except (*EXPECTED_ERRORS, ReplicasDiverged) as error:
        world.end_job(error)
        raise click.ClickException(str(error)) from None
    except BaseException as error:  # a bug, Ctrl-C: still end the job, then let it surface
        world.end_job(error)
        raise


def _quiet(line: str) -> None:
    """The echo of ranks other than 0: they print only errors."""


@cli.command(epilog=TRAIN_EXAMPLE)
@config_options
@PROGRESS
@RANKS
@CHECK_EVERY
def train(config_path, progress, ranks, check_every, **flags) -> None:
    """Train a model; write a run folder with history, checkpoints, plots and a report."""
    config = _config(config_path, flags)
    world = _joined(ranks, check_every)
    with _report_writer(world) as report:
        from descent.cli import jobs

        _run_ranked(world, jobs.train, config, echo=_echo if world.writes else _quiet,
                    progress=progress and world.writes, ranks=world, report=report)  # fmt: skip


SCALING = ("scale_lr", "warmup_epochs")
"""Settings of a run over MPI ranks, train's alone (a resumed run keeps its own)."""

NOT_LR_FIND = ("lr", "epochs", "schedule", "gamma", "step_size", "early_stopping", "guard",
               "clip_grad_norm", *SCALING)  # fmt: skip
"""Settings lr-find does without: it sweeps the lr, one mini-batch a rate."""


@cli.command(
    "lr-find",
    epilog="""
\b
Example:
  descent lr-find --data digits --model mlp:128 --batch-size 32
""",
)
@config_options(skip=NOT_LR_FIND)
@click.option("--start-lr", type=float, default=1e-5, show_default=True)
@click.option("--end-lr", type=float, default=10.0, show_default=True)
@click.option(
    "--steps",
    type=int,
    default=300,
    show_default=True,
    help="Learning rates tried, one mini-batch each (50 a decade by default: fewer, and the "
    "smoothed loss lags the rate by whole decades).",
)
def lr_find(config_path, start_lr, end_lr, steps, **flags) -> None:
    """The learning-rate range test: raise the lr each mini-batch and suggest one."""
    config = _config(config_path, flags)
    with _report_writer() as report:
        from descent.cli import jobs

        _run_job(jobs.find_lr, config, start_lr=start_lr, end_lr=end_lr, steps=steps,
                 echo=_echo, report=report)  # fmt: skip


@cli.command(
    epilog="""
\b
Example:
  descent sharpness --data moons --model mlp:32,32:tanh --batch-size full --lr 0.2
"""
)
@config_options(skip=SCALING)
@click.option(
    "--every", type=int, default=1, show_default=True, help="Measure every this many epochs."
)
@click.option(
    "--samples",
    type=int,
    help="Training samples the Hessian is measured on (default: the whole training set for "
    "--batch-size full, the batch the run descends on; else 512).",
)
@PROGRESS
def sharpness(config_path, every, samples, progress, **flags) -> None:
    """Train while tracking the Hessian's top eigenvalue against the optimizer's stability
    limit (2/lr for plain SGD, (2 + 2 momentum)/lr with momentum): the edge of stability."""
    config = _config(config_path, flags)
    with _report_writer() as report:
        from descent.cli import jobs

        _run_job(jobs.track_sharpness, config, every=every, samples=samples, echo=_echo,
                 progress=progress, report=report)  # fmt: skip


def _keys_in(config_path) -> set[str]:
    """The settings a TOML file names (its keys, with - read as _)."""
    try:
        with open(config_path, "rb") as file:
            return {str(key).replace("-", "_") for key in tomllib.load(file)}
    except (OSError, tomllib.TOMLDecodeError):
        return set()  # RunConfig.from_toml reports the problem itself


PER_ARM = (
    "clip_grad_norm",
    "optimizer",
    "lr",
    "batch_size",
    "epochs",
    "schedule",
    "gamma",
    "step_size",
    "early_stopping",
    "guard",
    "nesterov",
)


@cli.command(
    epilog="""
\b
Examples:
  descent compare
  descent compare --batch-sizes full,1,32 --lrs 0.01,0.1,1 --budget epochs=5
  descent compare --arm full:sgd:0.5 --arm 32:adam:0.001 --budget seconds=3 --seeds 5
"""
)
@config_options(skip=SCALING, hide=PER_ARM)
@click.option(
    "--arm",
    "arm_specs",
    multiple=True,
    metavar="BATCH:OPTIMIZER:LR",
    help="One arm, e.g. 32:sgd:0.1; repeat for more.",
)
@click.option("--batch-sizes", metavar="LIST", help="A grid's batch sizes (default full,1,32).")
@click.option(
    "--optimizers", metavar="LIST", help="A grid's optimizers, e.g. sgd,adam (default sgd)."
)
@click.option(
    "--lrs", metavar="LIST", help="A grid's learning rates, e.g. 0.01,0.1,1 (default 0.1)."
)
@click.option(
    "--budget",
    "budget_text",
    default="epochs=10",
    show_default=True,
    metavar="KIND=AMOUNT",
    help="epochs, samples, updates or seconds, per arm.",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Seeds per arm (0, 1, ...).",
)
@click.option(
    "--target-loss",
    type=float,
    callback=lambda ctx, param, value: arms.positive(value),
    help="The training loss the to-target columns measure (default: chosen).",
)
@click.option(
    "--sharpness-every",
    type=click.IntRange(min=1),
    metavar="EPOCHS",
    help="Also track the sharpness every this many epochs.",
)
@RANKS
def compare(config_path, arm_specs, batch_sizes, optimizers, lrs, budget_text, seeds,
            target_loss, sharpness_every, ranks, **flags) -> None:  # fmt: skip
    """Batch, stochastic and mini-batch descent and learning rates, side by side.

    Every arm trains the same model from the same initial weights on the same data for
    the same budget, for each seed. Without --arm or a grid: batch descent (lr 0.5),
    stochastic (lr 0.01) and mini-batch 32 (lr 0.1), plain SGD, 10 epochs, 3 seeds.
    --momentum and --weight-decay apply to every sgd arm. With --ranks (or under mpiexec)
    each rank trains whole arms and seeds, one process each.
    """
    given = {name for name, value in flags.items() if value is not None}
    if config_path:
        given |= _keys_in(config_path)
    per_arm = [name for name in PER_ARM if name in given]
    if per_arm:
        raise click.UsageError(
            f"compare sets {', '.join(n.replace('_', '-') for n in per_arm)} per arm: "
            "use --arm BATCH:OPTIMIZER:LR (repeatable) or --batch-sizes, --optimizers and "
            "--lrs, and --budget for the length"
        )
    config = _config(config_path, flags)
    options = {k: getattr(config, k) for k in ("momentum", "weight_decay")
               if k in given and getattr(config, k)}  # fmt: skip
    try:
        compared = arms.from_flags(arm_specs, batch_sizes, optimizers, lrs, options)
        budget = arms.budget(budget_text)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    world = _joined(ranks)
    with _report_writer(world) as report:
        from descent.cli import jobs

        _run_ranked(world, jobs.run_comparison, config, compared, budget, list(range(seeds)),
                    target_loss=target_loss, sharpness_every=sharpness_every,
                    echo=_echo if world.writes else _quiet, ranks=world,
                    report=report)  # fmt: skip


RUN = click.argument("run", type=click.Path())


@cli.command(epilog="\b\nExample:\n  descent resume runs/<run> --epochs 40")
@RUN
@click.option("--epochs", type=int, help="A new total number of epochs (default: the run's).")
@PROGRESS
@RANKS
@CHECK_EVERY
def resume(run, epochs, progress, ranks, check_every) -> None:
    """Continue a run from its last checkpoint, exactly as if it had never stopped (on any
    number of --ranks: the global batches do not depend on them)."""
    world = _joined(ranks, check_every)
    with _report_writer(world) as report:
        from descent.cli import jobs

        _run_ranked(world, jobs.resume, run, epochs=epochs,
                    echo=_echo if world.writes else _quiet,
                    progress=progress and world.writes, ranks=world, report=report)  # fmt: skip


WHICH = click.option("--which", type=click.Choice(["best", "last"]), default="best",
                     help="The best (lowest val_loss) or the last checkpoint.")  # fmt: skip


@cli.command(epilog="\b\nExample:\n  descent evaluate runs/20261125-101500-digits-mlp-128")
@RUN
@WHICH
def evaluate(run, which) -> None:
    """Print a run's loss and metrics on its train, validation and test data."""
    from descent.cli import jobs

    _run_job(jobs.evaluate_run, run, which=which, echo=_echo)


@cli.command(epilog="\b\nExample:\n  descent predict runs/<run> --input new.csv --output out.csv")
@RUN
@click.option(
    "--input",
    "input_csv",
    required=True,
    type=click.Path(dir_okay=False),
    help="A CSV with a header naming the training features.",
)
@click.option(
    "--output",
    "output_csv",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write one prediction per input row; - for standard output.",
)
@WHICH
def predict(run, input_csv, output_csv, which) -> None:
    """Predict each row of a CSV with a run's model (class and probabilities, or values)."""
    from descent.cli import jobs

    _run_job(jobs.predict, run, input_csv, output_csv, which=which, echo=_echo)


@cli.command(epilog="\b\nExample:\n  descent export runs/<run> --format onnx --output model.onnx")
@RUN
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["onnx"]),
    default="onnx",
    show_default=True,
    help="The file format; ONNX runs in onnxruntime and most inference servers.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    help="Where to write the model (default: model.onnx in the run folder).",
)
@WHICH
def export(run, fmt, output, which) -> None:
    """Write a run's model as an ONNX file that takes raw features, as predict does.

    The run's standardization is part of the graph, and its feature and class names are in
    the file's metadata, so onnxruntime needs nothing else from the run. Needs the onnx
    extra: pip install -e ".[onnx]"."""
    from descent.cli import jobs

    try:
        _run_job(jobs.export_run, run, output=output, which=which, echo=_echo)
    except ImportError as error:  # the onnx extra is not installed: say how to install it
        raise click.ClickException(str(error)) from None


@cli.command(epilog="\b\nExample:\n  descent report runs/20261125-101500-digits-mlp-128")
@RUN
def report(run) -> None:
    """Redraw a run's plots and report.html from its files."""
    from descent.cli.report import write_report
    from descent.cli.run_folder import RunFolder

    folder = _run_job(lambda: write_report(RunFolder.open(run)))
    click.echo(f"wrote {folder.report}")


@cli.command(epilog="\b\nExample:\n  descent datasets")
def datasets() -> None:
    """List the built-in data sets (all load offline)."""
    from descent.data import list_datasets

    entries = list_datasets()
    width = max(map(len, entries))
    for name, description in entries.items():
        click.echo(f"{name:<{width}}  {description}")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with `argv` (default: sys.argv[1:]) and return its exit code.

    Run as the command itself (no `argv`: the installed script, `python -m descent`), a
    run's report is drawn by a child process started before training, which imports
    matplotlib on another core meanwhile (`descent.cli.renderer`); called with `argv`
    (tests, scripts), everything runs in this process.
    """
    warnings.showwarning = _show_warning  # a user needs the message, not our source line
    invocation = Invocation(list(argv) if argv is not None else sys.argv[1:],
                            report_aside=argv is None)  # fmt: skip
    try:
        cli.main(args=invocation.argv, prog_name="descent", standalone_mode=False,
                 obj=invocation)  # fmt: skip
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.Abort:  # Ctrl-C: the job has said what is kept and how to go on
        click.echo("aborted", err=True)
        return 130
    return 0
