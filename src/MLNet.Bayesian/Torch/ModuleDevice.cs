using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// TorchSharp 0.107 remembers in each module the device it was last moved to with <c>.to(device)</c> and skips a later
/// move to that same device. A module whose tensors were created directly on a GPU (a layer converted from a CUDA
/// network, a posterior built on CUDA) still believes it lives on the CPU, so moving the whole network to the CPU
/// skips it and leaves its tensors on the GPU (found by the GPU kit: "Input type (CPUFloatType) and weight type
/// (CUDAFloatType) should be the same"). Calling <c>.to</c> once where such a module is built records the device;
/// nothing is copied, the tensors are already there.
/// </summary>
internal static class ModuleDevice
{
    /// <summary>Records <paramref name="device"/> as the device of <paramref name="module"/> (and its children).</summary>
    public static void Record(nn.Module module, Device device)
    {
        if (device.type != DeviceType.CPU) module.to(device);
    }
}
