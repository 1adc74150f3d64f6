//! The shared epoll set: the only file of this engine that talks to epoll (through rustix's
//! safe API). Connections are registered edge-triggered, once: each arrival of input (or of
//! room to write, after a write found none) queues one event, which goes to one waiting
//! thread; nothing has to be re-armed after a turn. Which thread serves a connection is
//! settled by the table's claims (`table::Table::claim`), not by the registration.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::event::{EventfdFlags, eventfd};

/// What a connection's registration reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Input only: a connection that has never had to wait for room to write.
    Read,
    /// Input and room to write. Registering it again (`EPOLL_CTL_MOD`) also looks at the
    /// socket at once and queues an event if it is ready: how a connection that must wait for
    /// writability avoids missing room that came meanwhile, and how one with work left goes to
    /// the back of the ready list (it is writable, so its event comes after those queued).
    ReadWrite,
}

fn flags(interest: Interest) -> EventFlags {
    EventFlags::ET
        | match interest {
            Interest::Read => EventFlags::IN,
            Interest::ReadWrite => EventFlags::IN | EventFlags::OUT,
        }
}

/// One ready source, as `wait` reports it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ready {
    pub(crate) token: u64,
}

#[derive(Debug)]
pub(crate) struct Poller {
    epoll: OwnedFd,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Self {
            epoll: epoll::create(CreateFlags::CLOEXEC)?,
        })
    }

    /// Adds (`registered` false) or changes a connection's registration.
    pub(crate) fn arm(
        &self,
        source: impl AsFd,
        token: u64,
        interest: Interest,
        registered: bool,
    ) -> io::Result<()> {
        let data = EventData::new_u64(token);
        if registered {
            epoll::modify(&self.epoll, source, data, flags(interest))?;
        } else {
            epoll::add(&self.epoll, source, data, flags(interest))?;
        }
        Ok(())
    }

    /// Registers a listening socket level-triggered: while connections wait to be accepted,
    /// any waiting worker takes them, with no re-arm per accept. [`Poller::pause`] and
    /// [`Poller::resume`] stop and restart its reports.
    pub(crate) fn add_listener(&self, source: impl AsFd, token: u64) -> io::Result<()> {
        epoll::add(
            &self.epoll,
            source,
            EventData::new_u64(token),
            EventFlags::IN,
        )?;
        Ok(())
    }

    /// Stops reports for a listener (the connection table is full, or accept failed).
    pub(crate) fn pause(&self, source: impl AsFd, token: u64) -> io::Result<()> {
        epoll::modify(
            &self.epoll,
            source,
            EventData::new_u64(token),
            EventFlags::empty(),
        )?;
        Ok(())
    }

    /// Restarts reports for a paused listener.
    pub(crate) fn resume(&self, source: impl AsFd, token: u64) -> io::Result<()> {
        epoll::modify(
            &self.epoll,
            source,
            EventData::new_u64(token),
            EventFlags::IN,
        )?;
        Ok(())
    }

    /// Registers `source` level-triggered and not one-shot: once readable, every waiter sees it
    /// on every wait (the stop signal).
    pub(crate) fn add_broadcast(&self, source: impl AsFd, token: u64) -> io::Result<()> {
        epoll::add(
            &self.epoll,
            source,
            EventData::new_u64(token),
            EventFlags::IN,
        )?;
        Ok(())
    }

    /// Registers `source` edge-triggered: each new write wakes one waiter (the nudge).
    pub(crate) fn add_edge(&self, source: impl AsFd, token: u64) -> io::Result<()> {
        epoll::add(
            &self.epoll,
            source,
            EventData::new_u64(token),
            EventFlags::IN | EventFlags::ET,
        )?;
        Ok(())
    }

    pub(crate) fn delete(&self, source: impl AsFd) -> io::Result<()> {
        epoll::delete(&self.epoll, source)?;
        Ok(())
    }

    /// Waits for up to `events.capacity()` events, at most `timeout` (forever if `None`).
    /// `EINTR` is an empty wait.
    pub(crate) fn wait(
        &self,
        events: &mut Vec<Ready>,
        raw: &mut Vec<Event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        events.clear();
        raw.clear();
        let timespec = timeout.map(|t| rustix::time::Timespec {
            tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(t.subsec_nanos()),
        });
        match epoll::wait(
            &self.epoll,
            rustix::buffer::spare_capacity(raw),
            timespec.as_ref(),
        ) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        events.extend(raw.iter().map(|e| Ready {
            token: e.data.u64(),
        }));
        Ok(())
    }
}

/// An eventfd: a counter that makes its fd readable while non-zero.
#[derive(Debug)]
pub(crate) struct Signal {
    fd: OwnedFd,
}

impl Signal {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Self {
            fd: eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?,
        })
    }

    /// Makes the fd readable (a non-blocking write of 1; a full counter is readable anyway).
    pub(crate) fn raise(&self) {
        let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
    }

    /// Resets the counter.
    pub(crate) fn clear(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.fd, &mut buf);
    }
}

impl AsFd for Signal {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
