using System.Reflection;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// Swaps a child module for another inside any TorchSharp module. TorchSharp has no public way to do
/// this: a Sequential keeps its children in a private list, and a custom module calls its children
/// through its own fields. This is the one place that reaches into those internals; the tests
/// (ModuleSurgeryTests) fail loudly if a TorchSharp release moves them.
/// </summary>
internal static class ModuleSurgery
{
    const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    /// <summary>Replaces the child registered as <paramref name="name"/> in <paramref name="parent"/>.</summary>
    public static void ReplaceChild(nn.Module parent, string name, nn.Module oldChild, nn.Module newChild)
    {
        if (parent is Sequential)
        {
            var list = typeof(Sequential).GetField("_modules", Instance)?.GetValue(parent) as List<nn.IModule<Tensor, Tensor>>
                ?? throw new NotSupportedException("This TorchSharp version keeps Sequential's children elsewhere; MLNet.Bayesian cannot convert it.");
            int index = list.FindIndex(m => ReferenceEquals(m, oldChild));
            if (index < 0) throw new InvalidOperationException($"Sequential child '{name}' was not found.");
            list[index] = (nn.IModule<Tensor, Tensor>)newChild;
            return;
        }

        int replaced = 0;
        for (var type = parent.GetType(); type != null && type != typeof(nn.Module); type = type.BaseType)
            foreach (var field in type.GetFields(Instance | BindingFlags.DeclaredOnly))
            {
                if (!ReferenceEquals(field.GetValue(parent), oldChild)) continue;
                if (!field.FieldType.IsInstanceOfType(newChild))
                    throw new NotSupportedException(
                        $"{parent.GetType().Name}.{field.Name} is declared as {field.FieldType.Name}, which cannot hold the Bayesian layer " +
                        $"{newChild.GetType().Name}. Declare it as Module<Tensor, Tensor> to make the module convertible.");
                field.SetValue(parent, newChild);
                replaced++;
            }
        if (replaced == 0)
            throw new NotSupportedException($"{parent.GetType().Name} registers child '{name}' but holds it in no field; it cannot be converted.");

        var registry = typeof(nn.Module).GetField("_internal_submodules", Instance)?.GetValue(parent) as TorchSharp.Utils.OrderedDict<string, nn.Module>
            ?? throw new NotSupportedException("This TorchSharp version keeps module children elsewhere; MLNet.Bayesian cannot convert it.");
        registry[name] = newChild;
    }
}
