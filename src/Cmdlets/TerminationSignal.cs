using System;
using System.Reflection;
using System.Threading;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Holds off SIGTERM (a service manager or <c>kill</c> stopping the process) while a run saves
    /// what it has finished. PowerShell 7.6 does not handle SIGTERM at all: the runtime's default
    /// action ends the process at once, without AppDomain.ProcessExit and without any finally block,
    /// like <c>kill -9</c> (verified on Linux with <c>kill -TERM</c>). A handler registered with
    /// .NET's PosixSignalRegistration (.NET 6 and later, reached by reflection because the module
    /// targets netstandard2.0) runs on a thread of the runtime's own before that default action,
    /// which follows once the handler returns. Where that type does not exist (Windows PowerShell
    /// 5.1) this does nothing.
    /// </summary>
    /// <remarks>
    /// Concurrency: the handler thread only calls the stop callback (which must be safe from any
    /// thread and must not write to PowerShell streams) and then waits for <see cref="Release"/>,
    /// which the pipeline thread calls once it has saved; the wait is bounded, so a pipeline thread
    /// that never comes back cannot keep the process alive. A second SIGTERM is not held off.
    /// </remarks>
    internal sealed class TerminationSignal : IDisposable
    {
        /// <summary>PosixSignal.SIGTERM: the enum's values are the negative portable numbers.</summary>
        private const int SigTerm = -4;

        /// <summary>Stops the run; called once, on the signal thread.</summary>
        private readonly Action _onSignal;

        /// <summary>The longest the signal's exit is held off.</summary>
        private readonly TimeSpan _bound;

        /// <summary>Set by the pipeline thread once it saved; ends the handler's wait.</summary>
        private readonly ManualResetEventSlim _released = new ManualResetEventSlim(false);

        /// <summary>The PosixSignalRegistration, or null where there is none.</summary>
        private IDisposable? _registration;

        /// <summary>1 once the first SIGTERM came.</summary>
        private int _signalled;

        private TerminationSignal(Action onSignal, TimeSpan bound)
        {
            _onSignal = onSignal;
            _bound = bound;
        }

        /// <summary>True once SIGTERM came: the run is being stopped to exit.</summary>
        internal bool Signalled => Volatile.Read(ref _signalled) != 0;

        /// <summary>
        /// Registers for SIGTERM until disposed. On the signal, <paramref name="onSignal"/> runs on the
        /// signal thread, and the process exits after <see cref="Release"/> or after
        /// <paramref name="bound"/>, whichever comes first.
        /// </summary>
        internal static TerminationSignal Register(Action onSignal, TimeSpan bound)
        {
            var signal = new TerminationSignal(onSignal, bound);
            signal._registration = TryCreateRegistration(signal);
            return signal;
        }

        /// <summary>What had to be saved is saved (or given up): the signal's exit may go on.</summary>
        internal void Release() => _released.Set();

        /// <summary>Releases a waiting handler first, then unregisters.</summary>
        public void Dispose()
        {
            Release();
            IDisposable? registration = Interlocked.Exchange(ref _registration, null);
            registration?.Dispose();
        }

        private static IDisposable? TryCreateRegistration(TerminationSignal target)
        {
            try
            {
                Type? registration = Type.GetType("System.Runtime.InteropServices.PosixSignalRegistration, System.Runtime.InteropServices");
                Type? signal = Type.GetType("System.Runtime.InteropServices.PosixSignal, System.Runtime.InteropServices");
                Type? context = Type.GetType("System.Runtime.InteropServices.PosixSignalContext, System.Runtime.InteropServices");
                if (registration is null || signal is null || context is null) return null;
                Type handlerType = typeof(Action<>).MakeGenericType(context);
                MethodInfo? create = registration.GetMethod("Create", new[] { signal, handlerType });
                MethodInfo? handle = typeof(TerminationSignal).GetMethod(nameof(OnSignal), BindingFlags.NonPublic | BindingFlags.Instance);
                if (create is null || handle is null) return null;
                Delegate handler = Delegate.CreateDelegate(handlerType, target, handle.MakeGenericMethod(context));
                return create.Invoke(null, new object[] { Enum.ToObject(signal, SigTerm), handler }) as IDisposable;
            }
            catch (Exception e) when (e is TargetInvocationException || e is PlatformNotSupportedException || e is ArgumentException || e is MemberAccessException)
            {
                // No SIGTERM on this platform or runtime: the process keeps the default behaviour.
                return null;
            }
        }

        /// <summary>The signal handler (generic because PosixSignalContext cannot be named here).
        /// Leaving the context's Cancel unset lets the runtime end the process once this returns.</summary>
        private void OnSignal<TContext>(TContext context)
        {
            if (Interlocked.Exchange(ref _signalled, 1) != 0) return;
            try
            {
                _onSignal();
            }
            catch (Exception)
            {
                // Stopping failed (everything may already be disposed): exit as the signal wants.
                return;
            }

            _released.Wait(_bound);
        }
    }
}
