package dev.sdj.model.clip;

import dev.sdj.backend.Backend;
import dev.sdj.core.Tensor;
import dev.sdj.model.Params;
import dev.sdj.model.nn.Linear;

/**
 * transformers' CLIPMLP: fc1 (hidden → intermediate), the config's hidden_act, fc2 (intermediate →
 * hidden). quick_gelu (x·sigmoid(1.702x)) is OpenAI CLIP's (SD1.x, SDXL's first encoder); exact
 * erf gelu is OpenCLIP's (SD2.x ViT-H, SDXL's bigG).
 */
public final class CLIPMLP {
    private final Backend b;
    private final Linear fc1, fc2;
    private final boolean quickGelu;

    public CLIPMLP(Params p, int hidden, int intermediate, String hiddenAct) {
        this.b = p.backend();
        this.quickGelu = switch (hiddenAct) {
            case "quick_gelu" -> true;
            case "gelu" -> false;
            default -> throw new IllegalArgumentException(p.name("") + ": hidden_act " + hiddenAct + " is not implemented by sdj "
                    + CLIPTextConfig.ACTIVATIONS);
        };
        this.fc1 = new Linear(p.child("fc1"), hidden, intermediate, true);
        this.fc2 = new Linear(p.child("fc2"), intermediate, hidden, true);
    }

    public Tensor forward(Tensor x) {
        Tensor h = fc1.forward(x);
        return fc2.forward(quickGelu ? b.quickGelu(h) : b.gelu(h, false));
    }
}
