#pragma once

// wakeful_stealing: a CAF 0.17 scheduler policy, CAF's work stealing with
// idle workers that wait to be woken instead of polling.
//
// Why: CAF's work stealing lets an idle worker poll its queue, then sleep
// 50 us at a time (plus the kernel's timer slack) for 500 polls, and only
// then wait on its condition variable. A job from outside the workers (an
// fsync's completion from the writer's syncer thread, a network read, a
// timer) wakes a worker only in that last phase, and a job made ready by a
// worker (a reply fanned out to 64 producers) is never offered to an idle
// one: it waits for the next poll that tries to steal. Under `always`
// every acknowledgement crosses both gaps (BENCHMARKS.md).
//
// What changes: an idle worker polls briefly (CAF's aggressive strategy,
// work-stealing.aggressive-*), then waits on its condition variable for at
// most work-stealing.relaxed-sleep-duration. It is woken
//  - by a job enqueued from outside the workers, on its own queue or, when
//    the worker that got it is busy, on any queue (it steals it);
//  - by a worker that makes a job ready while its own queue already holds
//    another: that is work the busy worker cannot start now. A job made
//    ready into an empty queue runs next on the same worker, as a reply in
//    a request/response chain does, so it wakes no one (a wake-up costs a
//    system call on each side and moves the actor's data to another core).
// The moderate (sleep-polling) strategy is not used.
//
// Use: use_wakeful_stealing(cfg) before the actor_system is built (emberd
// does; an application embedding the shards chooses its own scheduler).
// Thread safety: as CAF's policies; every method runs on the worker or
// coordinator thread CAF calls it from.

#include <atomic>
#include <cstddef>
#include <mutex>

#include "caf/actor_system_config.hpp"
#include "caf/policy/work_stealing.hpp"
#include "caf/scheduler/coordinator.hpp"

namespace ember::actors {

class wakeful_stealing : public caf::policy::work_stealing {
public:
  using base = caf::policy::work_stealing;

  struct coordinator_data : base::coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator* p)
      : base::coordinator_data(p) {
    }
    // Workers between announcing that they go to sleep and being awake
    // again; an enqueue looks for one to wake only while this is non-zero.
    std::atomic<size_t> sleepers{0};
  };

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    d(self).queue.append(job);
    if (!anyone_sleeps(self->parent()))
      return;
    if (!wake(self))
      wake_one(self->parent(), self->id());
  }

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    bool backlog = !d(self).queue.empty();
    d(self).queue.prepend(job);
    if (backlog && anyone_sleeps(self->parent()))
      wake_one(self->parent(), self->id());
  }

  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    // The job used up its throughput: others may take it meanwhile.
    d(self).queue.append(job);
    if (anyone_sleeps(self->parent()))
      wake_one(self->parent(), self->id());
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    auto& spin = d(self).strategies[0];
    for (size_t i = 0; i < spin.attempts; i += spin.step_size) {
      if (auto job = d(self).queue.take_head())
        return job;
      if (i % spin.steal_interval == 0)
        if (auto job = steal(self))
          return job;
    }
    auto& wait = d(self).waitdata;
    auto& sleepers = d(self->parent()).sleepers;
    auto timeout = d(self).strategies[2].sleep_duration;
    for (;;) {
      {
        std::lock_guard<std::mutex> guard(wait.lock);
        wait.sleeping = true;
      }
      // Announce first, then look once more: an enqueue that missed the
      // announcement put its job where this look finds it (see
      // anyone_sleeps for the ordering).
      sleepers.fetch_add(1, std::memory_order_seq_cst);
      auto job = find(self);
      {
        std::unique_lock<std::mutex> guard(wait.lock);
        if (job == nullptr)
          wait.cv.wait_for(guard, timeout, [&] {
            return !wait.sleeping || !d(self).queue.empty();
          });
        wait.sleeping = false;
      }
      sleepers.fetch_sub(1, std::memory_order_seq_cst);
      if (job != nullptr || (job = find(self)) != nullptr)
        return job;
    }
  }

private:
  // Whether a worker may be asleep, read after the caller's enqueue. A
  // read-modify-write, not a load: the RMWs on `sleepers` are ordered, so
  // either this one comes after a sleeper's announcement and sees it, or
  // that announcement reads from this one and its look sees the job. (A
  // fence would do on a plain load, but TSan cannot check fences.)
  template <class Coordinator>
  static bool anyone_sleeps(Coordinator* c) {
    return d(c).sleepers.fetch_add(0, std::memory_order_seq_cst) != 0;
  }

  // Wakes `w` if it sleeps and no one woke it yet; whether it did.
  // Notifies after unlocking: a sleeper woken while the lock is still held
  // blocks on the mutex at once, and the unlock must wake it a second time
  // (a second futex call here, a second sleep there). Safe because the
  // sleeper checks `sleeping` under the lock before it waits, and the
  // condition variable outlives every enqueue: CAF destroys the workers
  // with the coordinator, after stop() joined its threads.
  template <class Worker>
  static bool wake(Worker* w) {
    auto& wait = d(w).waitdata;
    {
      std::lock_guard<std::mutex> guard(wait.lock);
      if (!wait.sleeping)
        return false;
      wait.sleeping = false;
    }
    wait.cv.notify_one();
    return true;
  }

  template <class Coordinator>
  static void wake_one(Coordinator* c, size_t except) {
    auto n = c->num_workers();
    for (size_t k = 1; k < n; ++k)
      if (wake(c->worker_by_id((except + k) % n)))
        return;
  }

  // The oldest job of the first other worker that has one.
  template <class Worker>
  static caf::resumable* steal(Worker* self) {
    auto* c = self->parent();
    auto n = c->num_workers();
    for (size_t k = 1; k < n; ++k) {
      auto* victim = c->worker_by_id((self->id() + k) % n);
      if (auto job = d(victim).queue.take_tail())
        return job;
    }
    return nullptr;
  }

  template <class Worker>
  static caf::resumable* find(Worker* self) {
    if (auto job = d(self).queue.take_head())
      return job;
    return steal(self);
  }
};

/// Makes `cfg`'s actor system schedule with wakeful_stealing (its worker
/// count stays scheduler.max-threads). Call before the system is built.
inline void use_wakeful_stealing(caf::actor_system_config& cfg) {
  cfg.load<caf::scheduler::coordinator<wakeful_stealing>>();
}

} // namespace ember::actors
