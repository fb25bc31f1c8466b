"""Devices on a CPU-only machine: torch.device, .device.type, .to("cpu"), .cpu(), cuda."""

import torch
from torch import nn

results = {}
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
results["cuda_available"] = torch.cuda.is_available()
results["device_str"] = str(device)
results["device_type"] = device.type
cpu = torch.device("cpu")
results["device_eq"] = device == cpu
t = torch.zeros(2, 3, device="cpu")
results["t.device.type"] = t.device.type
results["t.device_str"] = str(t.device)
results["t.device_eq"] = t.device == torch.device("cpu")
results["to_same_is_self"] = t.to("cpu") is t
results["to_device_obj"] = t.to(device).device.type
results["cpu_is_self"] = t.cpu() is t
moved = t.to(device, torch.float64)
results["to_device_dtype"] = [moved.device.type, str(moved.dtype).replace("torch.", "")]
results["to_dtype_kw"] = str(t.to(device=device, dtype=torch.int64).dtype).replace("torch.", "")
results["is_cuda"] = t.is_cuda
results["tensor_device_kw"] = torch.tensor([1, 2], device=device).device.type
results["arange_device"] = torch.arange(3, device=device).tolist()

model = nn.Linear(2, 1)
returned = model.to(device)
results["module_to_returns_self"] = returned is model
results["param_device"] = next(model.parameters()).device.type
x = torch.ones(4, 2).to(device)
with torch.no_grad():
    model.weight.fill_(0.5)
    model.bias.fill_(-0.25)
results["forward"] = model(x).detach().cpu().numpy()
results["numpy_after_cpu"] = x.cpu().numpy().tolist()
results["accelerator"] = [torch.accelerator.is_available(), torch.accelerator.current_accelerator()]
