macro_rules! drive {
    ($m:ident) => {{
        let mut s = $m::Machine::__create();
        let mut t: Vec<String> = Vec::new();
        t.push(format!("tick={}", s.tick()));
        t.push(format!("poke={}", s.poke(3)));
        t.push(format!("name={}", s.name()));
        s.start(2);
        t.push(format!("trace={}", s.trace));
        assert_eq!(s.tick(), 20 + 2 + 1 + 20);
        t.push(format!("poke={} trace={}", s.poke(5), s.trace));
        assert_eq!(s.poke(5), 10);
        t.push(format!("name={}", s.name()));
        assert_eq!(s.name(), "busy");
        t.push(format!("depth={}", s.depth()));
        t.push(format!("poke={} trace={}", s.poke(500), s.trace));
        t.push(format!("tick={}", s.tick()));
        s.start(1);
        s.leave();
        t.push(format!("trace={}", s.trace));
        t.push(format!("depth={}", s.depth()));
        t
    }};
}
