//! The code under test: a fixed ring of ints (no heap) and a snapshot of
//! it (two allocations: the box and the items).

pub struct Ring {
    buf: [i32; 8],
    head: usize,
    len: usize,
}

pub struct Snapshot {
    pub items: Vec<i32>,
}

impl Ring {
    pub fn new() -> Ring {
        Ring { buf: [0; 8], head: 0, len: 0 }
    }

    pub fn push(&mut self, v: i32) {
        self.buf[(self.head + self.len) % 8] = v;
        if self.len < 8 {
            self.len += 1;
        } else {
            self.head = (self.head + 1) % 8;
        }
    }

    pub fn snapshot(&self) -> Box<Snapshot> {
        let mut items = Vec::with_capacity(self.len.max(1));
        for i in 0..self.len {
            items.push(self.buf[(self.head + i) % 8]);
        }
        Box::new(Snapshot { items })
    }
}

impl Default for Ring {
    fn default() -> Ring {
        Ring::new()
    }
}
