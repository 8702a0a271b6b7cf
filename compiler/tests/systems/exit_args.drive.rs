macro_rules! drive {
    ($m:ident) => {{
        let mut s = $m::Hier::__create();
        let mut t: Vec<String> = Vec::new();
        // the parent's handler leaves $Leaf: its `<$` gets 5
        s.go();
        s.leave();
        // $Leaf's own handler passes poke up; the parent's transition passes 3
        s.go();
        s.poke();
        // $Par itself is left: it has no `<$`, the args go nowhere
        s.back();
        s.leave();
        // the grandparent's handler leaves $Deep, whose `<$` hands 9 to $Mid's
        s.deep();
        s.back();
        // ... or leaves $Mid directly
        s.mid();
        s.back();
        // `=> $^` in `$>` hands the enter args to the parent's `$>`
        s.kid();
        s.leave();
        let log: Vec<u8> = s.log[..s.n].to_vec();
        assert_eq!(log, vec![15, 1, 13, 39, 29, 29, 57, 47]);
        t.push(format!("log={:?}", log));
        t
    }};
}
