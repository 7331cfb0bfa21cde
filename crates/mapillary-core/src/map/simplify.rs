//! Fewer points for a long polyline, as few as a screen can tell apart: a
//! GPS logger's one point a second over a day is 86,400 points, of which a
//! map 960 pixels wide needs a few hundred.

/// The points of the polyline `points` (pixels, `(x, y)`) to draw so that
/// it never strays more than `tolerance` pixels from the full one; the
/// first and the last point are always kept. Points closer than
/// `tolerance` to the last one kept are dropped first (one pass), then the
/// rest is thinned with Ramer–Douglas–Peucker (distances to the segment,
/// not the line, so a track that turns back keeps its turn).
pub fn simplify(points: &[(f64, f64)], tolerance: f64) -> Vec<(f64, f64)> {
    if points.len() <= 2 {
        return points.to_vec();
    }
    let Some((&last, _)) = points.split_last() else {
        return Vec::new();
    };
    let mut near: Vec<(f64, f64)> = Vec::with_capacity(points.len().min(1 << 16));
    for &p in points {
        match near.last() {
            Some(&q) if distance(p, q) < tolerance => {}
            _ => near.push(p),
        }
    }
    if near.len() == 1 || near.last() != Some(&last) {
        // The end is kept exactly, even when it is near the point before.
        near.push(last);
    }
    douglas_peucker(&near, tolerance)
}

fn douglas_peucker(points: &[(f64, f64)], tolerance: f64) -> Vec<(f64, f64)> {
    let n = points.len();
    if n <= 2 {
        return points.to_vec();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    // An explicit stack: a pathological track must not overflow the real one.
    let mut spans = vec![(0usize, n - 1)];
    while let Some((a, b)) = spans.pop() {
        if b <= a + 1 {
            continue;
        }
        let (mut far, mut far_d) = (a, -1.0);
        for (i, &p) in points.iter().enumerate().take(b).skip(a + 1) {
            let d = to_segment(p, points[a], points[b]);
            if d > far_d {
                far = i;
                far_d = d;
            }
        }
        if far_d > tolerance {
            keep[far] = true;
            spans.push((a, far));
            spans.push((far, b));
        }
    }
    points
        .iter()
        .zip(keep)
        .filter_map(|(&p, k)| k.then_some(p))
        .collect()
}

fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// The distance from `p` to the segment `a`–`b`.
fn to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return distance(p, a);
    }
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0);
    distance(p, (a.0 + t * dx, a.1 + t * dy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straight_line_keeps_its_ends_only() {
        let line: Vec<(f64, f64)> = (0..10_000).map(|i| (f64::from(i) * 0.1, 5.0)).collect();
        assert_eq!(simplify(&line, 0.5), vec![line[0], line[9999]]);
    }

    #[test]
    fn corners_and_turns_back_are_kept() {
        // Out along x, back along x a pixel lower: the far end must stay.
        let mut walk: Vec<(f64, f64)> = (0..=100).map(|i| (f64::from(i), 0.0)).collect();
        walk.extend((0..=100).rev().map(|i| (f64::from(i), 1.0)));
        let kept = simplify(&walk, 0.5);
        assert_eq!(kept.first(), Some(&(0.0, 0.0)));
        assert_eq!(kept.last(), Some(&(0.0, 1.0)));
        assert!(
            kept.contains(&(100.0, 0.0)) || kept.contains(&(100.0, 1.0)),
            "{kept:?}"
        );
        // An L keeps its corner.
        let l = [
            (0.0, 0.0),
            (5.0, 0.0),
            (10.0, 0.0),
            (10.0, 5.0),
            (10.0, 10.0),
        ];
        assert_eq!(
            simplify(&l, 0.5),
            vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]
        );
    }

    #[test]
    fn every_dropped_point_is_within_the_tolerance() {
        // A wiggly line: sin waves of a few pixels.
        let wiggle: Vec<(f64, f64)> = (0..5000)
            .map(|i| {
                let x = f64::from(i) * 0.2;
                (x, (x / 7.0).sin() * 4.0 + (x / 1.3).sin() * 0.3)
            })
            .collect();
        let kept = simplify(&wiggle, 0.5);
        assert!(kept.len() < wiggle.len() / 10, "{}", kept.len());
        for &p in &wiggle {
            let d = kept
                .windows(2)
                .map(|w| to_segment(p, w[0], w[1]))
                .fold(f64::INFINITY, f64::min);
            // The radial pass may add up to one tolerance to what
            // Douglas–Peucker allows.
            assert!(d <= 1.0 + 1e-9, "{p:?} is {d} away");
        }
    }

    #[test]
    fn short_and_repeated_inputs() {
        assert!(simplify(&[], 1.0).is_empty());
        assert_eq!(simplify(&[(1.0, 1.0)], 1.0), vec![(1.0, 1.0)]);
        let same = vec![(3.0, 3.0); 1000];
        assert_eq!(simplify(&same, 1.0), vec![(3.0, 3.0), (3.0, 3.0)]);
    }
}
