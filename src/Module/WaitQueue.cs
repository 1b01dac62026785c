using System.Diagnostics;
using System.Threading;

namespace ParallelMap.Engine
{
    /// <summary>
    /// Threads parked on a condition that the engine lock guards. Waiters register under the lock
    /// after seeing the condition false, then wait outside it, so a wake between the check and the
    /// wait is never lost. <see cref="SemaphoreSlim.Wait(int)"/> spins briefly before it blocks,
    /// which keeps short waits off the kernel.
    /// </summary>
    internal sealed class WaitQueue
    {
        /// <summary>The permits; one per wake not yet consumed.</summary>
        private readonly SemaphoreSlim _permits = new SemaphoreSlim(0);

        /// <summary>Threads registered and not yet left (guarded by the engine lock).</summary>
        private int _waiting;

        /// <summary>Wakes issued and not yet consumed by a leaving waiter (guarded by the engine lock).</summary>
        private int _woken;

        /// <summary>Threads registered (call under the engine lock).</summary>
        internal int Waiting => _waiting;

        /// <summary>True when some waiter has not been woken yet; a racy read is fine as a hint.</summary>
        internal bool HasSleepers => Volatile.Read(ref _waiting) > Volatile.Read(ref _woken);

        /// <summary>
        /// Parks the current thread: registers, releases the engine lock, waits, re-takes the lock
        /// and unregisters. Call with the lock held; returns with it held. True if woken.
        /// </summary>
        internal bool ParkLocked(object engineLock, int millisecondsTimeout)
        {
            Enter(engineLock);
            Monitor.Exit(engineLock);
            bool signaled = false;
            try
            {
                signaled = Wait(millisecondsTimeout);
            }
            finally
            {
                Monitor.Enter(engineLock);
                Leave(engineLock, signaled);
            }

            return signaled;
        }

        /// <summary>Registers the current thread; call under the engine lock, then <see cref="Wait"/> outside it.</summary>
        internal void Enter(object engineLock)
        {
            Debug.Assert(Monitor.IsEntered(engineLock));
            _waiting++;
        }

        /// <summary>Waits outside the lock; true if woken, false on timeout.</summary>
        internal bool Wait(int millisecondsTimeout) => _permits.Wait(millisecondsTimeout);

        /// <summary>Unregisters after re-taking the engine lock.</summary>
        internal void Leave(object engineLock, bool signaled)
        {
            Debug.Assert(Monitor.IsEntered(engineLock));

            // A wake can land between the timeout and re-taking the lock; consume it here so that
            // the permit count keeps matching _woken.
            if (!signaled && _woken > 0 && _permits.Wait(0)) signaled = true;
            _waiting--;
            if (signaled) _woken--;
            Debug.Assert(_waiting >= 0 && _woken >= 0 && _woken <= _waiting + 1);
        }

        /// <summary>Wakes one sleeper, if any; call under the engine lock.</summary>
        internal void WakeOne(object engineLock)
        {
            Debug.Assert(Monitor.IsEntered(engineLock));
            if (_waiting > _woken)
            {
                _woken++;
                _permits.Release();
            }
        }

        /// <summary>Wakes every sleeper; call under the engine lock.</summary>
        internal void WakeAll(object engineLock)
        {
            Debug.Assert(Monitor.IsEntered(engineLock));
            int n = _waiting - _woken;
            if (n > 0)
            {
                _woken += n;
                _permits.Release(n);
            }
        }

        internal void Dispose() => _permits.Dispose();
    }
}
